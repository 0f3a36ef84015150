"""DD100 (Duolando's duet dataset): SMPL-X motion dicts, leader/follower pairing, split and music.

Layout (the DD100 release; Duolando's split script copies ``all/`` into ``train/`` and ``test/``)::

    <root>/motion/smplx/{all,train,test}/<GENRE>_<CHOREO>_<TAKE>_00.npy    follower
    <root>/motion/smplx/{all,train,test}/<GENRE>_<CHOREO>_<TAKE>_01.npy    leader
    <root>/music/mp3/{all,train,test}/<GENRE>_<CHOREO>_<TAKE>.mp3          (or .wav)

Each ``.npy`` is ``np.save`` of a dict: ``poses`` (T, 165) axis-angle for the 55 SMPL-X joints,
``global_orient`` (T, 3), ``transl`` (T, 3), ``betas`` (T, >= 10) and ``meta`` with ``gender``. It is
read with :func:`data.io.load_npy`, whose unpickler builds only arrays and plain containers. 30 fps.

The split is Duolando's, keyed on the choreography index so no choreography is in both sets:
non-Ballet duets are test when ``choreo % 5 == 0``, Ballet duets when ``choreo in {9, 10}``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.errors import InputError, check_finite, missing_corpus_fix
from data.io import load_npy
from data.motion import Motion

DD100_FPS = 30.0
FOLLOWER, LEADER = "00", "01"
SPLITS = ("train", "test")
MUSIC_SUFFIXES = (".mp3", ".wav")
_BALLET_TEST_CHOREOS = frozenset({9, 10})

HOW_TO_GET_DD100 = ("get DD100 through the Duolando project (github.com/lisiyao21/Duolando) and pass the "
                    "folder that holds motion/smplx/all/ and music/mp3/all/")


# --------------------------------------------------------------------------------------------------
# One motion file
# --------------------------------------------------------------------------------------------------
def _gender(data: dict) -> str | None:
    value = data.get("gender")
    meta = data.get("meta")
    if value is None and isinstance(meta, dict):
        value = meta.get("gender")
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value) if isinstance(value, str) else None


def load_dd100_motion(path: str | os.PathLike) -> Motion:
    """Read a DD100 SMPL-X ``.npy`` dict as an ``smplx55`` :class:`Motion` at 30 fps.

    Rotations are ``poses`` as (T, 55, 3) with joint 0 replaced by ``global_orient`` when the file
    has it (the body's orientation lives there; Duolando's joint positions use it too). The root is
    ``transl``. ``betas`` and ``gender`` are kept in ``extras`` for a body-model pass.

    A plain ``(T, 165)`` float array is read as joint positions (55 joints x 3, metres): Duolando's
    preprocessed ``pos3d`` files and its result files (``eval/npy/pos3d/...``), so its followers can be
    scored beside pasdeux's; such a motion has no rotations.
    """
    p = Path(path)
    data = load_npy(p)
    if isinstance(data, np.ndarray) and data.dtype.kind in "fiu":
        if data.ndim != 2 or data.shape[1] != 165 or data.shape[0] == 0:
            raise InputError(p, f"holds an array of shape {data.shape}, not Duolando's (T, 165) joint positions",
                             "give a DD100 motion dict or a (T, 165) pos3d array")
        check_finite(data, p, "joint positions")
        return Motion(skeleton="smplx55", fps=DD100_FPS, joints=data.reshape(-1, 55, 3).astype(np.float64), name=p.stem)
    if not isinstance(data, dict):
        raise InputError(p, f"holds a {type(data).__name__}, not the dict of a DD100 motion",
                         "give a DD100 motion/smplx/*/<name>_00.npy or _01.npy file")
    missing = [k for k in ("poses", "transl") if k not in data]
    if missing:
        raise InputError(p, f"no {', '.join(repr(k) for k in missing)}: not a DD100 SMPL-X motion",
                         "give a DD100 .npy dict with poses (T, 165) and transl (T, 3)")
    try:
        poses = np.asarray(data["poses"], dtype=np.float64)
        transl = np.asarray(data["transl"], dtype=np.float64)
        orient = None if data.get("global_orient") is None else np.asarray(data["global_orient"], np.float64)
        betas = None if data.get("betas") is None else np.asarray(data["betas"], np.float64)
    except (TypeError, ValueError):
        raise InputError(p, "poses / transl / global_orient / betas are not numeric arrays",
                         "check the file's format") from None
    if poses.ndim != 2 or poses.shape[1] != 165 or poses.shape[0] == 0:
        raise InputError(p, f"poses has shape {poses.shape}, expected (T, 165) with T > 0",
                         "give SMPL-X poses (55 joints x axis-angle)")
    T = poses.shape[0]
    if transl.shape != (T, 3):
        raise InputError(p, f"transl has shape {transl.shape}, expected ({T}, 3) to match poses",
                         "check the file's format")
    check_finite(poses, p, "poses")
    check_finite(transl, p, "transl")
    rotations = poses.reshape(T, 55, 3).copy()
    if orient is not None:
        if orient.shape != (T, 3):
            raise InputError(p, f"global_orient has shape {orient.shape}, expected ({T}, 3)",
                             "check the file's format")
        check_finite(orient, p, "global_orient")
        rotations[:, 0] = orient
    extras: dict = {}
    if betas is not None:
        if betas.ndim not in (1, 2) or betas.shape[-1] < 10 or (betas.ndim == 2 and betas.shape[0] not in (1, T)):
            raise InputError(p, f"betas has shape {betas.shape}, expected (>= 10,) or ({T}, >= 10)",
                             "check the file's format")
        check_finite(betas, p, "betas")
        extras["betas"] = betas.astype(np.float32)
    gender = _gender(data)
    if gender is not None:
        extras["gender"] = gender
    return Motion.from_smpl("smplx55", rotations, transl, fps=DD100_FPS, name=p.stem, extras=extras)


# --------------------------------------------------------------------------------------------------
# Names and split
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DuetName:
    """``<GENRE>_<CHOREO>_<TAKE>``: one duet (a leader file ``_01`` and a follower file ``_00``)."""

    name: str
    genre: str
    choreo: int
    """The choreography index: the split is keyed on it."""
    take: str

    @property
    def split(self) -> str:
        """Duolando's rule: Ballet is test for choreography 9 or 10, other genres when choreo % 5 == 0."""
        if self.genre.lower() == "ballet":
            return "test" if self.choreo in _BALLET_TEST_CHOREOS else "train"
        return "test" if self.choreo % 5 == 0 else "train"


def parse_duet_name(name: str) -> DuetName:
    """Parse ``<GENRE>_<CHOREO>_<TAKE>``; ``ValueError`` when the name does not fit."""
    parts = name.split("_")
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2]:
        raise ValueError(f"{name!r} is not a DD100 duet name (<GENRE>_<CHOREO>_<TAKE>, e.g. Tango_05_1)")
    return DuetName(name=name, genre=parts[0], choreo=int(parts[1]), take=parts[2])


def split_of(name: str) -> str:
    """``train`` or ``test`` for a duet name (or a motion file stem with its ``_00`` / ``_01``)."""
    stem = name[:-3] if name.endswith(("_00", "_01")) and name.count("_") == 3 else name
    return parse_duet_name(stem).split


# --------------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------------
class DD100Reader:
    """DD100 read from its own layout (see the module docstring).

    Files may sit in ``all/`` (the release) or in ``train/`` / ``test/`` (after Duolando's split
    script); the split of a duet is always computed from its name.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(self.root, "DD100 folder not found", missing_corpus_fix(self.root, HOW_TO_GET_DD100))
        self.motion_root = self.root / "motion" / "smplx"
        self.music_root = self.root / "music" / "mp3"
        folders = [self.motion_root / f for f in ("all", *SPLITS)]
        if not any(f.is_dir() for f in folders):
            raise InputError(self.motion_root, "no DD100 motion/smplx/{all,train,test}/ folder", HOW_TO_GET_DD100)
        self._files: dict[str, dict[str, Path]] | None = None

    def _scan(self) -> dict[str, dict[str, Path]]:
        """duet name -> {"00": follower path, "01": leader path}; ``all/`` wins over train/test copies."""
        if self._files is not None:
            return self._files
        files: dict[str, dict[str, Path]] = {}
        for folder in ("test", "train", "all"):  # later folders overwrite: all/ is the source of truth
            d = self.motion_root / folder
            if not d.is_dir():
                continue
            for path in sorted(d.glob("*.npy")):
                stem = path.stem
                duet, _, role = stem.rpartition("_")
                try:
                    parse_duet_name(duet)
                except ValueError:
                    raise InputError(path, "not a DD100 motion name (<GENRE>_<CHOREO>_<TAKE>_00|01.npy)",
                                     "rename or remove the file") from None
                if role not in (FOLLOWER, LEADER):
                    raise InputError(path, f"role '_{role}' is neither _00 (follower) nor _01 (leader)",
                                     "rename or remove the file")
                files.setdefault(duet, {})[role] = path
        self._files = files
        return files

    def duets(self, split: str = "all") -> list[str]:
        """Duet names that have both a leader and a follower file, in ``split`` (train, test, all)."""
        if split not in ("all", *SPLITS):
            raise ValueError(f"unknown DD100 split {split!r}; use train, test or all")
        names = sorted(n for n, roles in self._scan().items() if len(roles) == 2)
        return names if split == "all" else [n for n in names if split_of(n) == split]

    sequences = duets

    def unpaired(self) -> list[str]:
        """Motion file stems whose partner (leader or follower) is missing; not listed by :meth:`duets`."""
        return sorted(path.stem for roles in self._scan().values() if len(roles) == 1 for path in roles.values())

    @staticmethod
    def split(name: str) -> str:
        return split_of(name)

    def motion_path(self, name: str, role: str) -> Path:
        """Path of the duet's follower (``"00"`` / ``"follower"``) or leader (``"01"`` / ``"leader"``)."""
        role = {"follower": FOLLOWER, "leader": LEADER}.get(role, role)
        path = self._scan().get(name, {}).get(role)
        if path is None:
            raise InputError(self.motion_root / "all" / f"{name}_{role}.npy", "DD100 motion file not found",
                             HOW_TO_GET_DD100)
        return path

    def load_pair(self, name: str) -> tuple[Motion, Motion]:
        """``(leader, follower)`` motions of a duet, both cropped to the shorter length."""
        leader = load_dd100_motion(self.motion_path(name, LEADER))
        follower = load_dd100_motion(self.motion_path(name, FOLLOWER))
        n = min(leader.num_frames, follower.num_frames)
        leader, follower = leader.slice(0, n), follower.slice(0, n)
        music = self._find_music(name)
        leader.music = follower.music = "" if music is None else str(music)
        for m in (leader, follower):
            # per-frame betas follow the crop too
            b = m.extras.get("betas")
            if b is not None and b.ndim == 2 and b.shape[0] > 1:
                m.extras = {**m.extras, "betas": b[:n]}
        return leader, follower

    def _find_music(self, name: str) -> Path | None:
        for folder in ("all", split_of(name)):
            for suffix in MUSIC_SUFFIXES:
                path = self.music_root / folder / f"{name}{suffix}"
                if path.is_file():
                    return path
        return None

    def music_path(self, name: str) -> Path:
        """The duet's music, ``music/mp3/{all,<split>}/<name>.mp3`` (or .wav)."""
        path = self._find_music(name)
        if path is None:
            raise InputError(self.music_root / "all" / f"{name}.mp3", "DD100 music file not found",
                             HOW_TO_GET_DD100)
        return path
