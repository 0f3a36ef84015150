"""Tiny dataset files in the real AIST++ / DD100 / DCM layouts, written by the tests themselves.

The ``files`` fixture hands the writers to a test (``files.make_dcm_piece(...)``); they are plain
functions, so tests call them with their own arguments. Writers go through
:func:`data.io.atomic_output` like the code under test does.
"""

from __future__ import annotations

import json
import os
import pickle
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from data.io import atomic_output


def write_bytes(path: Path, payload: bytes) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_bytes(payload)
    return path


def write_text(path: Path, text: str) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_pickle(path: Path, obj: Any, protocol: int = 4) -> Path:
    return write_bytes(path, pickle.dumps(obj, protocol=protocol))


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj))


class SystemPayload:
    """Unpickling this runs ``os.system(command)``: the classic malicious pickle."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class OpenPayload:
    """Unpickling this calls ``open(path, "w")``, creating ``path``: a payload that needs no shell."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# --------------------------------------------------------------------------------------------------
# AIST++
# --------------------------------------------------------------------------------------------------
def aistpp_payload(n: int = 5, seed: int = 0, scaling: float = 93.5) -> dict:
    """A motions/*.pkl dict as AIST++ stores it: (N, 72) float32 poses, trans in capture units."""
    rng = np.random.default_rng(seed)
    return {
        "smpl_poses": (rng.normal(size=(n, 72)) * 0.3).astype(np.float32),
        "smpl_trans": (rng.normal(size=(n, 3)) * scaling).astype(np.float32),
        "smpl_scaling": np.array([scaling], dtype=np.float32),
        "smpl_loss": 1.25,
    }


def make_aistpp_root(root: Path, names: list[str], splits: dict[str, str] | None = None,
                     ignore_text: str | None = "", musics: tuple[str, ...] = ()) -> Path:
    """An AIST++ annotations folder: a motion pkl per name, split files and the ignore list as given
    (raw text, so tests control whitespace and final newlines), and empty wavs in all_musics/."""
    for i, name in enumerate(names):
        write_pickle(root / "motions" / f"{name}.pkl", aistpp_payload(n=4 + i, seed=i), protocol=2)
    for split, text in (splits or {}).items():
        write_text(root / "splits" / f"crossmodal_{split}.txt", text)
    if ignore_text is not None:
        write_text(root / "ignore_list.txt", ignore_text)
    for music_id in musics:
        write_bytes(root / "all_musics" / f"{music_id}.wav", b"RIFF")
    return root


# --------------------------------------------------------------------------------------------------
# DD100
# --------------------------------------------------------------------------------------------------
def dd100_payload(t: int = 6, seed: int = 0, x: float = 0.0, with_orient: bool = True,
                  gender: str | None = "female") -> dict:
    """A DD100 SMPL-X dict: poses (T, 165), global_orient, transl (x-shifted), betas (T, 16), meta."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {
        "poses": (rng.normal(size=(t, 165)) * 0.2).astype(np.float32),
        "transl": (rng.normal(size=(t, 3)) * 0.1 + [x, 0.0, 0.0]).astype(np.float32),
        "betas": rng.normal(size=(t, 16)).astype(np.float32),
    }
    if with_orient:
        out["global_orient"] = (rng.normal(size=(t, 3)) * 0.5).astype(np.float32)
    if gender is not None:
        out["meta"] = {"gender": gender}
    return out


def write_dd100_npy(path: Path, payload: Any) -> Path:
    """``np.save`` of a dict, exactly as DD100 stores each sequence (a pickled 0-d object array)."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, payload, allow_pickle=True)
    return path


# --------------------------------------------------------------------------------------------------
# DCM
# --------------------------------------------------------------------------------------------------
def dcm_transform_records(positions: np.ndarray, frame_times: list[int] | None = None) -> list[dict]:
    """Records whose column-major 4x4 per bone has a non-trivial rotation block and the given
    translation at offsets 12..14, so a reader that takes the wrong offsets gets wrong numbers."""
    T = positions.shape[0]
    records = []
    for f in range(T):
        blocks = np.zeros((60, 16))
        blocks[:, :12] = 0.5 + np.arange(12) * 0.01  # rotation/scale part: never equal to a position
        blocks[:, 12:15] = positions[f]
        blocks[:, 15] = 1.0
        records.append({"FrameTime": f if frame_times is None else frame_times[f],
                        "Transform": blocks.reshape(-1).tolist()})
    return records


def dcm_camera_dict(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "FrameTime": n,
        "Distance": (-30 - rng.random(n) * 10).tolist(),
        "Position": (rng.normal(size=(n, 3)) * 5).tolist(),
        "Rotation": (rng.normal(size=(n, 3)) * 0.3).tolist(),
        "Fov": (20 + rng.random(n) * 20).tolist(),
    }


def make_dcm_piece(split_dir: Path, piece_id: str, genre: str | None, frames: int, camera_frames: int | None = None,
                   motion: bool = True, camera: bool = True) -> None:
    """Audio, CameraCentric and motion files of one DCM piece in ``split_dir`` (e.g. .../Train)."""
    if genre is not None:
        write_bytes(split_dir / "Audio" / f"a{piece_id}_{genre}.wav", b"RIFF")
    if camera:
        write_json(split_dir / "CameraCentric" / f"c{piece_id}.json",
                   dcm_camera_dict(camera_frames or frames, seed=len(piece_id)))
    if motion:
        pos = np.arange(frames * 60 * 3, dtype=np.float64).reshape(frames, 60, 3) / 100.0
        write_json(split_dir / "Simplified_MotionGlobalTransform" / f"m{piece_id}_gt.json",
                   {"BoneKeyFrameNumber": frames, "BoneKeyFrameTransformRecord": dcm_transform_records(pos)})


@pytest.fixture(scope="session")
def files() -> types.SimpleNamespace:
    """The dataset-file writers above, for any test under tests/data."""
    return types.SimpleNamespace(
        write_bytes=write_bytes, write_text=write_text, write_pickle=write_pickle, write_json=write_json,
        SystemPayload=SystemPayload, OpenPayload=OpenPayload, aistpp_payload=aistpp_payload,
        make_aistpp_root=make_aistpp_root, dd100_payload=dd100_payload, write_dd100_npy=write_dd100_npy,
        dcm_transform_records=dcm_transform_records, dcm_camera_dict=dcm_camera_dict,
        make_dcm_piece=make_dcm_piece,
    )
