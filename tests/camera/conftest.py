"""Toy camera data for the camera-model tests: dancers on the MMD skeleton that sway and travel, filmed
by cameras that orbit them, with edge35-shaped music; and a briefly trained camera checkpoint."""

from __future__ import annotations

from types import SimpleNamespace

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from data.camera import CameraTrack, camera_rotation_angles, dcm_to_mmd, metres_to_dcm
from data.datamodules import CameraDataset, CameraSequence
from data.skeleton import get_skeleton


def toy_dance(frames: int, seed: int) -> np.ndarray:
    """(T, 60, 3) MMD bones in DCM units: the rest pose swaying, bobbing and walking a circle."""
    rng = np.random.default_rng(seed)
    rest = get_skeleton("mmd60").rest_joints()  # (60, 3) metres
    t = np.arange(frames) / 30.0
    sway = 0.1 * np.sin(2 * np.pi * (1.0 + 0.3 * rng.random()) * t)
    path = np.stack([1.0 * np.sin(0.4 * t + seed), 0.05 * np.abs(np.sin(4 * t)), 1.0 * np.cos(0.4 * t + seed) - 1.0], 1)
    joints = rest[None] + path[:, None, :]
    joints[:, 16:, 0] += sway[:, None] * np.sign(rest[None, 16:, 0])  # arms swing out and in
    return metres_to_dcm(joints)


def orbit_track(joints: np.ndarray, seed: int) -> CameraTrack:
    """A camera circling the dancer's waist at ~3.5 m, looking at it, upright, fov 30 degrees."""
    T = len(joints)
    waist = joints[:, 0]
    angle = 0.5 * seed + np.linspace(0, 1.5, T)
    eye = waist + np.stack([45 * np.sin(angle), np.full(T, 8.0), 45 * np.cos(angle)], 1)
    forward = waist - eye
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    up = np.cross(right, forward)
    rotation = np.unwrap(camera_rotation_angles(np.stack([right, up, -forward], -1)), axis=0)
    d = np.linalg.norm(waist - eye, axis=1)
    return CameraTrack(distance=-d, interest=dcm_to_mmd(waist), rotation=rotation, fov=np.full(T, 30.0))


def toy_camera_sequences(n: int, frames: int) -> list[CameraSequence]:
    out = []
    for i in range(n):
        joints = toy_dance(frames, i)
        music = np.zeros((frames, 35), dtype=np.float32)
        music[:, 0] = float(i)
        music[i % 8::8, 34] = 1.0
        out.append(CameraSequence(f"toy{i}", orbit_track(joints, i), joints.astype(np.float32), music))
    return out


class ToyCameraData(pl.LightningDataModule):
    """What the camera stage reads from a pasdeux data module: splits, whole sequences, the music
    feature set, and windows."""

    def __init__(self, sequences, window: int = 30, stride: int = 10, batch_size: int = 4):
        super().__init__()
        self.seqs = sequences
        self.splits = {"train": "train", "val": "train", "test": "train"}
        self.music = SimpleNamespace(feature_set="edge35")
        self.dataset = CameraDataset(sequences, window, stride)
        self.batch_size = batch_size

    def sequences(self, split: str):
        return self.seqs

    def train_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False)

    def val_dataloader(self):
        return self.train_dataloader()


TINY_MODEL = dict(window=30, n_embd=32, n_head=2, n_layer=2, encoder_layers=1, frames_per_token=3, dropout=0.0)


@pytest.fixture(scope="session")
def camera_checkpoint(tmp_path_factory) -> str:
    """A camera checkpoint from 30 training steps on toy dances (tiny sizes, 30-frame windows)."""
    from camera.lightning import CameraDiffusionStage

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("camera")
    stage = CameraDiffusionStage(model=TINY_MODEL, diffusion=dict(sampling_steps=4), ema_decay=0.9,
                                 optimizer=dict(name="adamw", lr=3e-3, scheduler="none"))
    trainer = pl.Trainer(max_steps=30, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0, default_root_dir=str(folder))
    trainer.fit(stage, datamodule=ToyCameraData(toy_camera_sequences(3, 90)))
    path = folder / "camera.ckpt"
    trainer.save_checkpoint(path)
    return str(path)
