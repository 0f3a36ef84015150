"""Two CPU processes (gloo, ddp_spawn) train the tokenizer: both ranks end with byte-identical
codebooks, although each saw different windows."""

import os

import lightning.pytorch as pl
import pytest
import torch


@pytest.mark.timeout(300)  # a missing loopback interface makes gloo hang silently
def test_two_process_fit_keeps_codebooks_identical(tmp_path, monkeypatch, toys):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    pl.seed_everything(0)
    # kmeans init and dead-code re-seeding both run (16 codes, threshold 1): the synced paths of both.
    stage = toys.tiny_stage("solo")
    dm = toys.ToyDataModule("solo", sequences=4, frames=64, window=32, stride=8, batch_size=2)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_steps=4, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0, callbacks=[toys.CodebookDump(str(tmp_path))])
    trainer.fit(stage, datamodule=dm)

    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    assert all(all(r["synced"]) for r in ranks)  # built in configure_model, after the process group: the library synced
    assert ranks[0]["first_batch_sum"] != ranks[1]["first_batch_sum"]  # different data per rank
    a, b = ranks[0]["codebook"], ranks[1]["codebook"]
    assert a.keys() == b.keys() and any(k.endswith("embed") for k in a)
    assert all(bool(v) for k, v in a.items() if k.endswith("initted"))
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and the codebook did move away from its k-means start during the steps
    assert float(a["tokenizer.parts.upper.quantizer._codebook.cluster_size"].sum()) > 0
    assert not os.environ.get("RANK")  # the parent is not a rank: the test really spawned


@pytest.mark.timeout(300)
def test_two_process_fit_of_the_translation_stage_keeps_weights_and_codebook_identical(tmp_path, monkeypatch, toys):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    pl.seed_everything(0)
    # 16 codes, threshold 1: k-means init and dead-code re-seeding, as for the motion tokenizer above.
    stage = toys.tiny_translation_stage()
    dm = toys.ToyDataModule("duet", sequences=4, frames=64, window=32, stride=8, batch_size=2)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_steps=3, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0,
                         callbacks=[toys.StateDump(str(tmp_path), key=stage.config.batch_key)])
    trainer.fit(stage, datamodule=dm)

    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    assert all(r["synced"] and all(r["synced"]) for r in ranks)  # the codebook all-reduces
    assert ranks[0]["first_batch_sum"] != ranks[1]["first_batch_sum"]  # different offsets per rank
    a, b = ranks[0]["end"], ranks[1]["end"]
    assert a.keys() == b.keys() and any(k.endswith("_codebook.embed") for k in a)
    assert all(bool(v) for k, v in a.items() if k.endswith("initted"))  # the codebook and the offset statistics
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the encoder trained and the codebook moved
    start = ranks[0]["start"]
    for key in ("translation.vqvae.encoder.net.0.weight", "translation.vqvae.quantizer._codebook.embed"):
        assert not torch.equal(a[key], start[key]), key
    assert not os.environ.get("RANK")
