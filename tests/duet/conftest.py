"""Tiny duet and translation tokenizer checkpoints, toy duets with aist55-shaped music, and a trained
interaction GPT checkpoint for the duet tests (no files but the checkpoints, no music decoding)."""

from __future__ import annotations

from dataclasses import asdict
from types import SimpleNamespace

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from data.datamodules import DuetDataset
from tests.tokenizer.conftest import duet_sequences, tiny_part
from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig
from tokenizer.translation import RelativeTranslationVQVAE, TranslationConfig


def duet_music_sequences(n: int, frames: int, seed: int = 0):
    """Toy duets (SMPL-X at 30 fps) with aist55 music: a beat every 8 frames, a per-duet level."""
    seqs = duet_sequences(n, frames, seed)
    for i, s in enumerate(seqs):
        music = np.full((frames, 55), float(i), dtype=np.float32)
        music[:, 53] = 0.0
        music[i % 8::8, 53] = 1.0
        s.music = music
    return seqs


class ToyDuetData(pl.LightningDataModule):
    """What the duet stage reads from a pasdeux data module: splits, whole sequences, fps, the music
    feature set and margin, and windows."""

    def __init__(self, sequences, window: int = 32, stride: int = 4, music_margin: int = 0, batch_size: int = 4):
        super().__init__()
        self.seqs = sequences
        self.splits = {"train": "train", "val": "train", "test": "train"}
        self.fps = 30.0
        self.music = SimpleNamespace(feature_set="aist55")
        self.window = SimpleNamespace(music_margin=music_margin)
        self.dataset = DuetDataset(sequences, window, stride, music_margin=music_margin)
        self.batch_size = batch_size

    def sequences(self, split: str):
        return self.seqs

    def train_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False)

    def val_dataloader(self):
        return self.train_dataloader()


@pytest.fixture(scope="session")
def duet_tokenizers(tmp_path_factory) -> tuple[str, str]:
    """``(duet tokenizer, translation tokenizer)`` checkpoints as their stages write them, stride 4 at
    30 fps, codebooks initialised by one forward on toy duets (k-means)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("duettok")
    seqs = duet_music_sequences(3, 64)
    config = MotionTokenizerConfig("duet", tiny_part(levels=2))
    model = MotionTokenizer(config, sync_codebook=False).train()
    joints = torch.stack([torch.from_numpy(s.follower.joints) for s in seqs] + [torch.from_numpy(s.leader.joints)
                                                                                for s in seqs])
    model(joints - joints[:, :, :1], torch.stack([torch.from_numpy(s.follower.rotations) for s in seqs] +
                                                 [torch.from_numpy(s.leader.rotations) for s in seqs]),
          torch.zeros(joints.shape[0], 64, 3))
    tok = folder / "duet_tokenizer.ckpt"
    torch.save({"hyper_parameters": {"tokenizer": asdict(config)},
                "state_dict": {f"tokenizer.{k}": v for k, v in model.state_dict().items()}}, tok)
    tconfig = TranslationConfig(part=tiny_part(levels=2, codebook_size=8))
    trans = RelativeTranslationVQVAE(tconfig, sync_codebook=False).train()
    offsets = torch.stack([torch.from_numpy(s.follower.joints[:, 0] - s.leader.joints[:, 0]) for s in seqs])
    trans(offsets.float())
    tr = folder / "translation.ckpt"
    torch.save({"hyper_parameters": {"translation": asdict(tconfig)},
                "state_dict": {f"translation.{k}": v for k, v in trans.state_dict().items()}}, tr)
    return str(tok), str(tr)


def tiny_gpt_config(leader_ahead: int = 2) -> dict:
    enc = dict(n_layer=1, n_embd=32, n_head=4, window=3, ahead=leader_ahead, dropout=0.0)
    return dict(transformer=dict(n_layer=2, n_embd=32, n_head=4, window=4, dropout=0.0), music_context=1,
                music_encoder=dict(enc, ahead=2), leader_encoder=enc, frozen_layers=1)


@pytest.fixture(scope="session")
def duet_gpt_ckpt(duet_tokenizers, tmp_path_factory) -> str:
    """An interaction GPT checkpoint (DuetGPTStage) after a few training steps on toy duets."""
    from duet.lightning import DuetGPTStage

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("duetgpt")
    stage = DuetGPTStage(*duet_tokenizers, gpt=tiny_gpt_config(),
                         optimizer={"lr": 3e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    data = ToyDuetData(duet_music_sequences(3, 64), music_margin=12)  # (1 + 2) tokens x 4 frames
    trainer = pl.Trainer(max_steps=4, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=folder,
                         limit_val_batches=0)
    trainer.fit(stage, datamodule=data)
    path = folder / "duet_gpt.ckpt"
    trainer.save_checkpoint(path)
    return str(path)
