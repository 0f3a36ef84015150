"""Two CPU processes (gloo, ddp_spawn) train the solo GPT and fine-tune it by actor-critic: both ranks
end with identical weights (the policy, the critic, the KL anchor, the frozen tokenizer's codebooks and
the music statistics), although each saw different windows."""

import os
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from data.datamodules import SoloDataset
from tests.gpt.conftest import music_sequences
from tests.tokenizer.conftest import StateDump

TRAINER = dict(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
OPTIMIZER = {"lr": 3e-3, "betas": (0.9, 0.99), "scheduler": "none"}


class ToySoloData(pl.LightningDataModule):
    """What the solo GPT stage reads of a pasdeux data module (splits, whole sequences, fps, the music
    feature set and margin) over toy AIST-named sequences with aist55 music; shuffled windows."""

    def __init__(self, sequences, window: int = 64, stride: int = 16, music_margin: int = 8, batch_size: int = 2):
        super().__init__()
        self.seqs, self.batch_size = sequences, batch_size
        self.splits = {"train": "train", "val": "train", "test": "train"}
        self.fps = 60.0
        self.music = SimpleNamespace(feature_set="aist55")
        self.window = SimpleNamespace(music_margin=music_margin)
        self.dataset = SoloDataset(sequences, window, stride, music_margin=music_margin)

    def sequences(self, split: str):
        return self.seqs

    def train_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=True)


def rank_dumps(folder) -> list[dict]:
    ranks = [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    assert ranks[0]["first_batch_sum"] != ranks[1]["first_batch_sum"]  # different windows per rank
    for when in ("start", "end"):  # rank 0's start was broadcast, and the ranks stayed together
        a, b = ranks[0][when], ranks[1][when]
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (when, key)
    return ranks


def changed(start: dict, end: dict, prefix: str = "") -> set[str]:
    return {k for k in start if k.startswith(prefix) and not torch.equal(start[k], end[k])}


@pytest.mark.timeout(300)  # a missing loopback interface makes gloo hang silently
def test_two_process_fit_of_the_solo_gpt_keeps_weights_identical(tokenizer_ckpt, tmp_path, monkeypatch):
    from gpt.lightning import SoloGPTStage

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    pl.seed_everything(0)
    # genre dropout draws from each rank's RNG; the window tokens come from the whole-sequence table
    gpt = dict(transformer=dict(n_layer=2, n_embd=32, n_head=4, window=4, dropout=0.0), music_context=1,
               genres=["BR", "PO"], genre_dropout=0.5, frozen_layers=1)
    stage = SoloGPTStage(tokenizer_ckpt, gpt, optimizer=OPTIMIZER)
    trainer = pl.Trainer(max_steps=3, callbacks=[StateDump(str(tmp_path))], **TRAINER)
    trainer.fit(stage, datamodule=ToySoloData(music_sequences(2, 128)))

    ranks = rank_dumps(tmp_path)
    start, end = ranks[0]["start"], ranks[0]["end"]
    assert any(k.endswith("_codebook.embed") for k in end)  # the frozen tokenizer's codebooks, compared above
    assert not changed(start, end, "tokenizer.")  # and frozen
    assert changed(start, end, "gpt.heads.") and changed(start, end, "gpt.transformer.blocks.0.")
    assert not torch.equal(end["gpt.music_mean"], torch.zeros_like(end["gpt.music_mean"]))  # statistics were set
    assert not os.environ.get("RANK")  # the parent is not a rank: the test really spawned


@pytest.mark.timeout(300)
def test_two_process_actor_critic_keeps_policy_critic_and_anchor_identical(gpt_ckpt, tmp_path, monkeypatch):
    from gpt.rl import SoloRLStage

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    pl.seed_everything(0)
    stage = SoloRLStage(gpt_ckpt, {"critic_layers": 1}, OPTIMIZER)
    loader = DataLoader(SoloDataset(music_sequences(2, 128), 64, 16, music_margin=8), batch_size=2, shuffle=True)
    trainer = pl.Trainer(max_steps=3, callbacks=[StateDump(str(tmp_path))], **TRAINER)
    trainer.fit(stage, loader)

    ranks = rank_dumps(tmp_path)  # the policy, its critic, the KL anchor and the tokenizer: every entry
    start, end = ranks[0]["start"], ranks[0]["end"]
    assert any(k.startswith("reference.") for k in end) and any(k.startswith("critic.") for k in end)
    assert any(k.endswith("_codebook.embed") for k in end)
    assert changed(start, end, "gpt.transformer.blocks.1.") and changed(start, end, "gpt.heads.")
    assert changed(start, end, "critic.transformer.") and changed(start, end, "critic.value.")
    assert not changed(start, end, "reference.") and not changed(start, end, "tokenizer.")
    assert not changed(start, end, "gpt.transformer.blocks.0.")  # the frozen base
    assert not os.environ.get("RANK")
