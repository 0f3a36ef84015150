"""The solo GPT stage: tokenizer facts from its checkpoint, the step, and that it learns."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from data.datamodules import SoloDataset
from gpt.lightning import SoloGPTStage, genre_of, music_stats
from training.checkpoint import read_checkpoint


def tiny_gpt(**over) -> dict:
    base = dict(transformer=dict(n_layer=2, n_embd=32, n_head=4, window=4, dropout=0.0), music_context=1,
                music_dim=4, genres=["BR", "PO"], frozen_layers=1)
    base.update(over)
    return base


def test_tokenizer_facts_come_from_the_checkpoint(tokenizer_ckpt):
    stage = SoloGPTStage(tokenizer_ckpt, tiny_gpt(codebook_size=999, frames_per_token=3), tokens_from="window")
    assert stage.tokenizer is None  # read when training starts: a config instantiates without the file
    stage.configure_model()
    assert stage.config.parts == ("upper", "lower")
    assert stage.config.codebook_size == 16 and stage.config.frames_per_token == 8  # never the YAML's
    assert stage.hparams["gpt"]["codebook_size"] == 16
    assert stage.hparams["fps"] == 60.0
    assert not any(p.requires_grad for p in stage.tokenizer.parameters())


def test_a_gpt_checkpoint_is_not_a_tokenizer(tokenizer_ckpt, tmp_path):
    from data.errors import InputError
    path = tmp_path / "gpt.ckpt"
    torch.save({"hyper_parameters": {"tokenizer": "some/path.ckpt"}, "state_dict": {}}, path)
    with pytest.raises(InputError, match="not a tokenizer checkpoint"):
        SoloGPTStage(str(path), tiny_gpt()).configure_model()


def test_genre_from_aist_names():
    assert genre_of("gBR_sBM_cAll_d04_mBR0_ch01") == "BR"
    assert genre_of("my song") is None


def test_music_stats_per_channel(toy_solo):
    seqs = toy_solo(2, 16)
    seqs[0].music[:] = 2.0
    seqs[1].music[:] = 4.0
    mean, std = music_stats(seqs)
    assert torch.allclose(mean, torch.full((4,), 3.0)) and torch.allclose(std, torch.full((4,), 1.0))


def test_the_stage_learns_a_toy_corpus(tokenizer_ckpt, toy_solo, tmp_path):
    torch.manual_seed(0)
    seqs = toy_solo(2, 128)
    for i, s in enumerate(seqs):  # music that says which sequence it is, so the tokens are learnable
        s.music[:] = float(i)
        s.name = f"g{'BR' if i == 0 else 'PO'}_sBM_cAll_d01_m{'BR' if i == 0 else 'PO'}0_ch0{i}"
    ds = SoloDataset(seqs, 64, 16, music_margin=8)
    stage = SoloGPTStage(tokenizer_ckpt, tiny_gpt(), tokens_from="window",
                         optimizer={"lr": 3e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    trainer = pl.Trainer(max_steps=60, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    loader = DataLoader(ds, batch_size=len(ds), shuffle=False)
    first = trainer.validate(stage, loader, verbose=False)[0]["val/loss"]
    trainer.fit(stage, loader)
    last = trainer.validate(stage, loader, verbose=False)[0]["val/loss"]
    assert last < 0.5 * first, (first, last)
    assert not stage.tokenizer.training  # frozen through fit (no codebook updates)
    path = tmp_path / "gpt.ckpt"
    trainer.save_checkpoint(path)
    ckpt = read_checkpoint(path)
    assert ckpt["hyper_parameters"]["tokenizer_config"]["part_set"] == "solo"
    assert any(k.startswith("tokenizer.model.") for k in ckpt["state_dict"])  # one file holds both
    opt_params = sum(p.numel() for g in trainer.optimizers[0].param_groups for p in g["params"])
    assert opt_params == sum(p.numel() for p in stage.gpt.parameters())  # the tokenizer is not optimised


class ToySoloModule(pl.LightningDataModule):
    """What SoloGPTStage reads of a data module: ``splits`` and ``sequences(split)``, and the loaders."""

    def __init__(self, sequences, window: int, stride: int) -> None:
        super().__init__()
        self.splits = {"train": "train", "val": "train", "test": "train"}
        self._seqs = sequences
        self.ds = SoloDataset(sequences, window, stride, music_margin=8)

    def sequences(self, split):
        return self._seqs

    def train_dataloader(self):
        return DataLoader(self.ds, batch_size=len(self.ds), shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.ds, batch_size=len(self.ds))


def test_tokens_cut_from_whole_sequences(tokenizer_ckpt, toy_solo, tmp_path):
    seqs = toy_solo(2, 128)
    dm = ToySoloModule(seqs, 64, 16)
    stage = SoloGPTStage(tokenizer_ckpt, tiny_gpt(), optimizer={"lr": 3e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    trainer = pl.Trainer(max_steps=30, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    first = trainer.validate(stage, datamodule=dm, verbose=False)[0]["val/loss"]
    trainer.fit(stage, datamodule=dm)
    assert trainer.validate(stage, datamodule=dm, verbose=False)[0]["val/loss"] < first
    whole = stage.tokenizer.encode(torch.as_tensor(seqs[1].dancer.joints))
    cut = stage.window_tokens([seqs[1].name], [16], 8, torch.device("cpu"))
    for part in ("upper", "lower"):
        assert torch.equal(cut[part][0], whole[part][2:10])
    assert stage.root_start == pytest.approx(((seqs[0].dancer.joints[0, 0] + seqs[1].dancer.joints[0, 0]) / 2).tolist(),
                                             abs=1e-4)
    with pytest.raises(ValueError, match="multiple of the token stride"):
        stage.window_tokens([seqs[1].name], [12], 8, torch.device("cpu"))


def test_sequence_tokens_need_a_data_module(tokenizer_ckpt):
    stage = SoloGPTStage(tokenizer_ckpt, tiny_gpt())
    with pytest.raises(ValueError, match="tokens_from: window"):
        stage.configure_model()
