"""A tiny solo tokenizer checkpoint and toy dance windows for the GPT tests (no files but the checkpoint,
no music decoding)."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from data.fk import convert_rotations
from tests.tokenizer.conftest import solo_sequences, tiny_part, toy_motion
from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig


@pytest.fixture(scope="session")
def tokenizer_ckpt(tmp_path_factory) -> str:
    """A solo tokenizer checkpoint as ``TokenizerStage`` writes it (config + weights; rotation and root
    heads), codebooks initialised by one forward on toy motions (k-means), stride 8 at 60 fps, 16 codes
    per part."""
    torch.manual_seed(0)
    config = MotionTokenizerConfig("solo", tiny_part(levels=3))
    model = MotionTokenizer(config, sync_codebook=False)
    motions = [toy_motion(i, 64) for i in range(4)]
    joints = torch.stack([torch.from_numpy(m.joints).float() for m in motions])
    joints = joints - joints[:, :, :1]
    six = torch.stack([convert_rotations(torch.from_numpy(m.rotations), "axis_angle", "6d").float() for m in motions])
    model.train()
    model(joints, six, torch.zeros(4, 64, 3))
    path = tmp_path_factory.mktemp("gpt") / "tokenizer.ckpt"
    torch.save({"hyper_parameters": {"tokenizer": asdict(config)},
                "state_dict": {f"tokenizer.{k}": v for k, v in model.state_dict().items()}}, path)
    return str(path)


@pytest.fixture(scope="session")
def toy_solo():
    """Builders of toy solo sequences (music: 4 channels of zeros) for the GPT tests."""
    return solo_sequences


def music_sequences(n: int, frames: int, seed: int = 0):
    """Toy solo sequences with aist55-shaped music: a beat (channel 53) every 15 frames (4 per second
    at 60 fps), and a constant per-sequence level on the other channels. AIST++ names (genres BR, PO)."""
    import numpy as np

    seqs = solo_sequences(n, frames, seed)
    for i, s in enumerate(seqs):
        music = np.full((frames, 55), float(i), dtype=np.float32)
        music[:, 53] = 0.0
        music[i::15, 53] = 1.0
        s.music = music
        genre = ("BR", "PO")[i % 2]
        s.name = f"g{genre}_sBM_cAll_d0{i}_m{genre}{i}_ch0{i}"
    return seqs


def _fit_gpt(tokenizer_ckpt: str, folder, music_encoder: dict | None = None, music_margin: int = 8) -> str:
    """A solo GPT checkpoint (SoloGPTStage, aist55 music, 2 layers) after a few training steps."""
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader

    from data.datamodules import SoloDataset
    from gpt.lightning import SoloGPTStage

    torch.manual_seed(0)
    stage = SoloGPTStage(tokenizer_ckpt, dict(transformer=dict(n_layer=2, n_embd=32, n_head=4, window=4, dropout=0.0),
                                              music_context=1, music_encoder=music_encoder, genres=["BR", "PO"],
                                              frozen_layers=1),
                         feature_set="aist55", tokens_from="window",
                         optimizer={"lr": 3e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    trainer = pl.Trainer(max_steps=5, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=folder)
    ds = SoloDataset(music_sequences(2, 128), 64, 16, music_margin=music_margin)
    trainer.fit(stage, DataLoader(ds, batch_size=len(ds)))
    path = folder / "gpt.ckpt"
    trainer.save_checkpoint(path)
    return str(path)


@pytest.fixture(scope="session")
def gpt_ckpt(tokenizer_ckpt, tmp_path_factory) -> str:
    """A solo GPT checkpoint (linear music tokens) after a few training steps."""
    return _fit_gpt(tokenizer_ckpt, tmp_path_factory.mktemp("gptckpt"))


@pytest.fixture(scope="session")
def encoder_gpt_ckpt(tokenizer_ckpt, tmp_path_factory) -> str:
    """The same with a music look-ahead encoder (1 layer, 2 tokens back and ahead: margin 24 frames)."""
    encoder = dict(n_layer=1, n_embd=32, n_head=4, window=3, ahead=2, dropout=0.0)
    return _fit_gpt(tokenizer_ckpt, tmp_path_factory.mktemp("encgptckpt"), encoder, music_margin=24)
