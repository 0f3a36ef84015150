"""What ``cli.py evaluate`` scores: the sequences, duets or cameras of a folder or a dataset root.

Each is an :class:`Item`: a name (what generated and reference items are paired by), the files its
features depend on (hashed for the cache) and a loader that runs only on a cache miss. The layouts
read are listed in :mod:`metrics.evaluate`'s docstring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from data.camera import CameraTrack, load_camera_npz
from data.datasets.aistpp import AISTPPReader
from data.datasets.dcm import DCMReader, read_camera_json
from data.datasets.dd100 import DD100Reader
from data.errors import InputError
from data.formats import load_motion

MOTION_SUFFIXES = (".npz", ".pkl", ".npy", ".bvh")


@dataclass
class Item:
    """One sequence (solo), duet or camera to score."""

    name: str
    files: list[Path]
    """The input files its features depend on (hashed for the cache)."""
    load: Callable[[], Any]
    music: list[Path] = field(default_factory=list)
    """Audio of the sequence, when the dataset knows it."""


@dataclass
class CameraWithDancer:
    """A camera to score and the dancer it films, when its file holds one."""

    track: CameraTrack
    joints: np.ndarray | None
    """(T, J, 3) metres, pasdeux's frame; ``None``: take the reference dancer of the same name."""


def require_dir(path: Path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise InputError(p, f"{what} folder not found", "pass a folder of sequences (or a dataset root)")
    return p


def check_items(items: list[Item], folder: Path, what: str, minimum: int = 2) -> None:
    """:class:`InputError` unless ``folder`` gave at least ``minimum`` items (FID and Div need two)."""
    if len(items) < minimum:
        raise InputError(folder, f"found {len(items)} {what}; FID and Div need at least {minimum}",
                         "check the folder (see `cli.py evaluate --help` for the layouts read)")


def _is_aistpp_root(p: Path) -> bool:
    return (p / "motions").is_dir()


def _is_dd100_root(p: Path) -> bool:
    return (p / "motion" / "smplx").is_dir()


def _is_dcm_root(p: Path) -> bool:
    return (p / "amc_data_split_by_categories").is_dir() or any(
        (p / f / "CameraCentric").is_dir() for f in ("Train", "Validation", "Test"))


def _motion_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in MOTION_SUFFIXES)


def solo_items(folder: Path, split: str) -> tuple[list[Item], str]:
    """Solo sequences of a folder or AIST++ root; ``split`` is ``test`` or ``all`` for dataset roots.

    Returns the items (each loads a :class:`data.motion.Motion`) and a description of the source.
    """
    folder = require_dir(folder, "motion")
    if _is_aistpp_root(folder):
        ds = AISTPPReader(folder)
        names = ds.sequences("all") if split == "all" else ds.sequences("test") + ds.sequences("val")
        items = []
        for n in names:
            music = []
            try:
                music = [ds.music_path(n)]
            except InputError:
                pass
            items.append(Item(n, [ds.motion_path(n)], (lambda n=n: ds.load(n)), music))
        what = f"AIST++ root, {'all sequences' if split == 'all' else 'test + val split'}"
        return items, what
    files = _motion_files(folder)
    return [Item(f.stem, [f], (lambda f=f: load_motion(f))) for f in files], "folder"


def duet_items(folder: Path, split: str) -> tuple[list[Item], str]:
    """Duets (follower ``_00`` + leader ``_01``) of a folder or DD100 root; each loads ``(follower, leader)``."""
    folder = require_dir(folder, "duet")
    if _is_dd100_root(folder):
        ds = DD100Reader(folder)
        items = []
        for n in ds.duets(split):
            music = []
            try:
                music = [ds.music_path(n)]
            except InputError:
                pass

            def load(n=n):
                leader, follower = ds.load_pair(n)
                return follower, leader

            items.append(Item(n, [ds.motion_path(n, "00"), ds.motion_path(n, "01")], load, music))
        return items, f"DD100 root, {split} duets"
    by_name: dict[str, dict[str, Path]] = {}
    for f in _motion_files(folder):
        m = re.match(r"^(.*)_(00|01)$", f.stem)
        if m:
            by_name.setdefault(m.group(1), {})[m.group(2)] = f
    unpaired = sorted(n for n, r in by_name.items() if len(r) != 2)
    if unpaired:
        raise InputError(folder, f"{len(unpaired)} duet(s) lack a follower _00 or leader _01 file, first "
                                 f"{unpaired[0]!r}", "write both <name>_00 (follower) and <name>_01 (leader)")
    items = [Item(n, [r["00"], r["01"]], (lambda r=r: (load_motion(r["00"]), load_motion(r["01"]))))
             for n, r in sorted(by_name.items())]
    return items, "folder"


def camera_key(stem: str) -> str:
    """DCM result / CameraCentric names ``c66_6`` -> ``66_6``; other names unchanged."""
    m = re.match(r"^c(\d+(?:_\d+)?)$", stem)
    return m.group(1) if m else stem


def _camera_npz(path: Path) -> CameraWithDancer:
    track, joints = load_camera_npz(path)
    return CameraWithDancer(track, joints)


def camera_items(folder: Path, split: str) -> tuple[list[Item], str]:
    """Cameras of a folder (camera npz, DCM ``c*.json`` CameraCentric or result files) or a DCM root.

    Each item loads a :class:`CameraWithDancer`; a DCM root's cameras come with their dancer.
    """
    folder = require_dir(folder, "camera")
    if _is_dcm_root(folder):
        ds = DCMReader(folder)
        items = []
        for pid in ds.sequences(split):
            def load(pid=pid):
                motion, track = ds.load(pid)
                return CameraWithDancer(track, motion.joints)

            items.append(Item(pid, [ds.camera_path(pid), ds.motion_path(pid)], load))
        return items, f"DCM root, {split} split"
    items = []
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() == ".npz":
            items.append(Item(camera_key(f.stem), [f], (lambda f=f: _camera_npz(f))))
        elif f.suffix.lower() == ".json" and re.match(r"^c\d+(_\d+)?$", f.stem):
            items.append(Item(camera_key(f.stem), [f], (lambda f=f: CameraWithDancer(read_camera_json(f), None))))
    return items, "folder"
