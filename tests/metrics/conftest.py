"""Procedural test data for the metrics: beat-locked SMPL dances, duets and orbiting cameras.

A dance swings every joint as ``A_j cos(pi t / P)`` (P = one beat), so every joint stops at the same
instants, the beats: the motion's speed minima land exactly on the music beats. Per-sequence tempo,
amplitudes and a base pose give the sets a spread, like a small corpus.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from data.camera import camera_frame
from data.motion import Motion, save_npz
from data.skeleton import get_skeleton


def beat_dance(seed: int, seconds: float = 8.0, fps: float = 60.0, skeleton: str = "smpl24",
               offset=(0.0, 0.0, 0.0)) -> tuple[Motion, np.ndarray]:
    """A beat-locked SMPL dance and its beat times (s)."""
    rng = np.random.default_rng(seed)
    J = get_skeleton(skeleton).num_joints
    T = int(round(seconds * fps))
    bpm = rng.uniform(90, 140)
    period = 60.0 / bpm
    t = np.arange(T) / fps
    swing = np.cos(np.pi * t / period)  # extremes, i.e. zero speed, on every beat
    amp = rng.uniform(0.05, 0.45, size=(J, 3)) * (rng.random((J, 3)) < 0.6)
    base = rng.normal(scale=0.15, size=(J, 3))
    rotations = base[None] + amp[None] * swing[:, None, None]
    root = np.zeros((T, 3))
    root[:, 0] = 0.15 * rng.uniform(0.3, 1.0) * swing + offset[0]
    root[:, 1] = 0.03 * swing + offset[1]
    root[:, 2] = offset[2]
    motion = Motion.from_smpl(skeleton, rotations, root, fps, music=f"song{seed:03d}", name=f"dance{seed:03d}")
    return motion, np.arange(0.0, T / fps, period)


def noisy(motion: Motion, scale: float, seed: int) -> Motion:
    """The motion's joints plus Gaussian noise (positions only)."""
    rng = np.random.default_rng(seed)
    return Motion(skeleton=motion.skeleton, fps=motion.fps, joints=motion.joints + rng.normal(scale=scale,
                  size=motion.joints.shape), music=motion.music, name=motion.name)


def write_solo_corpus(folder: Path, seeds, noise: float = 0.0, beats_dir: Path | None = None,
                      seconds: float = 8.0, fps: float = 60.0, skeleton: str = "smpl24") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in seeds:
        m, beats = beat_dance(s, seconds, fps, skeleton)
        if noise > 0:
            m = noisy(m, noise, 1000 + s)
        paths.append(save_npz(m, folder / f"{m.name}.npz"))
        if beats_dir is not None:
            beats_dir.mkdir(parents=True, exist_ok=True)
            (beats_dir / f"{m.music}.json").write_text(json.dumps({"beats": beats.tolist()}))
    return paths


def write_duet_corpus(folder: Path, seeds, noise: float = 0.0, fps: float = 30.0, seconds: float = 8.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        follower, _ = beat_dance(s, seconds, fps, "smplx55")
        leader, _ = beat_dance(s + 500, seconds, fps, "smplx55", offset=(0.7, 0.0, 0.3))
        if noise > 0:
            follower = noisy(follower, noise, 2000 + s)
        save_npz(follower, folder / f"duet{s:03d}_00.npz")
        save_npz(leader, folder / f"duet{s:03d}_01.npz")


def orbit_camera(joints: np.ndarray, seed: int, fps: float = 30.0, jitter: float = 0.0,
                 look_away: bool = False) -> np.ndarray:
    """(T, 8) DCM polar camera orbiting the dancer's pelvis (MMD units), optionally jittered or reversed."""
    rng = np.random.default_rng(seed)
    T = joints.shape[0]
    t = np.arange(T) / fps
    pelvis_mmd = joints[:, 0] / 0.08 * np.array([1.0, 1.0, -1.0])  # metres -> raw MMD (z negated)
    cam = np.zeros((T, 8))
    cam[:, 0] = -rng.uniform(30, 50)  # d, stored negative as MMD does
    cam[:, 1:4] = pelvis_mmd
    cam[:, 4] = rng.uniform(-0.2, 0.1)  # rx
    cam[:, 5] = rng.uniform(-1, 1) + rng.uniform(0.1, 0.5) * t  # ry: orbit
    cam[:, 7] = rng.uniform(25, 40)
    if jitter:
        cam[:, 4:7] += rng.normal(scale=jitter, size=(T, 3))
        cam[:, 0] += rng.normal(scale=jitter * 20, size=T)
    if look_away:
        # same eye, view direction turned half-way round the vertical: ry + pi, and the interest
        # point moved so that eye = P + |d| R e_z still holds (DCM's convention, data.camera)
        eye = camera_frame(cam[:, 0], cam[:, 1:4], cam[:, 4:7])[0]
        cam[:, 5] += np.pi
        forward = camera_frame(np.zeros(T), np.zeros((T, 3)), cam[:, 4:7])[3]
        interest_dcm = eye + np.abs(cam[:, :1]) * forward
        cam[:, 1:4] = interest_dcm * np.array([1.0, 1.0, -1.0])  # DCM frame -> raw MMD (z negated)
    return cam


def write_camera_corpus(folder: Path, seeds, *, jitter: float = 0.0, look_away: bool = False,
                        with_joints: bool = True, seconds: float = 10.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        m, _ = beat_dance(s, seconds, 30.0)
        cam = orbit_camera(m.joints, s, jitter=jitter, look_away=look_away)
        arrays = dict(camera=cam, fps=np.float64(30.0))
        if with_joints:
            arrays.update(joints=m.joints, skeleton=np.str_("smpl24"))
        np.savez(folder / f"{s}.npz", **arrays)


@pytest.fixture(scope="session")
def synth():
    """The generators, for tests that build their own folders."""
    return types.SimpleNamespace(beat_dance=beat_dance, noisy=noisy, write_solo_corpus=write_solo_corpus,
                                 write_duet_corpus=write_duet_corpus, orbit_camera=orbit_camera,
                                 write_camera_corpus=write_camera_corpus)
