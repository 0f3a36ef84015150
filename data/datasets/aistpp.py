"""AIST++: its SMPL motion pickles, sequence names, splits and music, read safely.

Layout (the AIST++ annotations, with the music from the AIST Dance DB added beside them)::

    <root>/motions/<seq>.pkl                 smpl_poses (N, 72), smpl_trans (N, 3), smpl_scaling (1,), smpl_loss
    <root>/splits/crossmodal_{train,val,test}.txt
    <root>/ignore_list.txt                   sequences with bad reconstructions, dropped everywhere
    <root>/all_musics/<music_id>.wav         e.g. mBR0.wav (or pass ``music_dir``)

Everything is 60 fps. ``smpl_trans`` is in the capture's units; SMPL's ``transl`` is
``smpl_trans / smpl_scaling`` (metres). Sequence names read ``g{GEN}_s{SIT}_c{CAM}_d{DANCER}_m{MUSIC}_ch{CHOREO}``
(``gBR_sBM_cAll_d04_mBR0_ch01``); the music id encodes its tempo (:func:`music_bpm`).

Pickles are read through :func:`data.io.load_pickle`, which builds only numpy arrays and plain
containers: a file that asks to run code is refused with an :class:`InputError`.
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.errors import InputError, check_finite, missing_corpus_fix
from data.io import atomic_output, load_pickle
from data.motion import Motion

AISTPP_FPS = 60.0
GENRES = {
    "BR": "Break", "PO": "Pop", "LO": "Lock", "MH": "Middle Hip-hop", "LH": "LA-style Hip-hop",
    "HO": "House", "WA": "Waack", "KR": "Krump", "JS": "Street Jazz", "JB": "Ballet Jazz",
}
SITUATIONS = {"BM": "basic", "FM": "advanced"}
SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {"train": "train", "val": "val", "validation": "val", "test": "test", "all": "all"}
MUSIC_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")

HOW_TO_GET_AISTPP = ("download the AIST++ annotations from https://google.github.io/aistplusplus_dataset/ "
                     "(motions/, splits/, ignore_list.txt) and the music wavs from the AIST Dance DB "
                     "(https://aistdancedb.ongaaccel.jp/) into all_musics/ as <music_id>.wav")

_NAME_RE = re.compile(r"^g(?P<genre>[A-Z]{2})_s(?P<sit>[A-Z]{2})_c(?P<cam>All|\d{2})_d(?P<dancer>\d{2})"
                      r"_m(?P<mgenre>[A-Z]{2})(?P<mdigit>\d)_ch(?P<choreo>\d{2})$")
_MUSIC_RE = re.compile(r"^m(?P<genre>[A-Z]{2})(?P<digit>\d)$")


# --------------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------------
def music_bpm(music_id: str) -> float:
    """Tempo of an AIST Dance DB song from its id: ``80 + 10 d`` BPM, House (``mHO``) ``110 + 5 d``."""
    m = _MUSIC_RE.match(music_id)
    if not m or m.group("genre") not in GENRES:
        raise ValueError(f"{music_id!r} is not an AIST music id (m + genre + digit, e.g. mBR0)")
    d = int(m.group("digit"))
    return float(110 + 5 * d) if m.group("genre") == "HO" else float(80 + 10 * d)


@dataclass(frozen=True)
class SequenceName:
    """A parsed AIST++ sequence name, ``gBR_sBM_cAll_d04_mBR0_ch01``."""

    genre: str
    """Dance genre code (BR, PO, LO, MH, LH, HO, WA, KR, JS, JB)."""
    situation: str
    """``basic`` (sBM) or ``advanced`` (sFM)."""
    camera: str
    """``All`` for annotations, ``01``..``09`` for videos."""
    dancer: int
    music_id: str
    """e.g. ``mBR0``: the music file is ``<music_id>.wav``."""
    choreo: int

    @property
    def bpm(self) -> float:
        return music_bpm(self.music_id)

    @property
    def genre_name(self) -> str:
        return GENRES[self.genre]

    @property
    def name(self) -> str:
        sit = {v: k for k, v in SITUATIONS.items()}[self.situation]
        return f"g{self.genre}_s{sit}_c{self.camera}_d{self.dancer:02d}_{self.music_id}_ch{self.choreo:02d}"


def parse_sequence_name(name: str) -> SequenceName:
    """Parse ``g{GEN}_s{SIT}_c{CAM}_d{DANCER}_m{MUSIC}_ch{CHOREO}``; ``ValueError`` when it does not fit."""
    m = _NAME_RE.match(name)
    if not m:
        raise ValueError(f"{name!r} is not an AIST++ sequence name (like gBR_sBM_cAll_d04_mBR0_ch01)")
    if m.group("genre") not in GENRES or m.group("mgenre") not in GENRES:
        raise ValueError(f"{name!r}: unknown genre; AIST++ genres are {', '.join(GENRES)}")
    if m.group("sit") not in SITUATIONS:
        raise ValueError(f"{name!r}: unknown situation s{m.group('sit')}; AIST++ has sBM and sFM")
    return SequenceName(genre=m.group("genre"), situation=SITUATIONS[m.group("sit")], camera=m.group("cam"),
                        dancer=int(m.group("dancer")), music_id=f"m{m.group('mgenre')}{m.group('mdigit')}",
                        choreo=int(m.group("choreo")))


def try_parse_sequence_name(name: str) -> SequenceName | None:
    try:
        return parse_sequence_name(name)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# One motion file
# --------------------------------------------------------------------------------------------------
def load_aistpp_motion(path: str | os.PathLike) -> Motion:
    """Read an AIST++ ``motions/<seq>.pkl`` as an ``smpl24`` :class:`Motion` at 60 fps.

    Rotations are ``smpl_poses`` as (N, 24, 3) axis-angle, the root translation is
    ``smpl_trans / smpl_scaling`` and joints come from the built-in SMPL forward kinematics. The
    music id is taken from the file name when it parses.
    """
    p = Path(path)
    data = load_pickle(p)
    if not isinstance(data, dict):
        raise InputError(p, f"holds a {type(data).__name__}, not the dict of an AIST++ motion",
                         "give an AIST++ motions/<seq>.pkl file")
    missing = [k for k in ("smpl_poses", "smpl_trans", "smpl_scaling") if k not in data]
    if missing:
        raise InputError(p, f"no {', '.join(repr(k) for k in missing)}: not an AIST++ motion pickle",
                         "give an AIST++ motions/<seq>.pkl file (smpl_poses, smpl_trans, smpl_scaling)")
    try:
        poses = np.asarray(data["smpl_poses"], dtype=np.float64)
        trans = np.asarray(data["smpl_trans"], dtype=np.float64)
        scaling = np.asarray(data["smpl_scaling"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(p, "smpl_poses / smpl_trans / smpl_scaling are not numeric arrays",
                         "check the file's format") from None
    # The AIST++ loader's comment says (N, 24, 3); the files hold (N, 72). Accept both.
    if poses.ndim == 3 and poses.shape[1:] == (24, 3):
        poses = poses.reshape(poses.shape[0], 72)
    if poses.ndim != 2 or poses.shape[1] != 72 or poses.shape[0] == 0:
        raise InputError(p, f"smpl_poses has shape {poses.shape}, expected (N, 72) with N > 0",
                         "give an AIST++ SMPL motion (24 joints x axis-angle)")
    N = poses.shape[0]
    if trans.shape != (N, 3):
        raise InputError(p, f"smpl_trans has shape {trans.shape}, expected ({N}, 3) to match smpl_poses",
                         "check the file's format")
    if scaling.shape != (1,):
        raise InputError(p, f"smpl_scaling has shape {scaling.shape}, expected one value", "check the file")
    check_finite(poses, p, "smpl_poses")
    check_finite(trans, p, "smpl_trans")
    check_finite(scaling, p, "smpl_scaling")
    if not scaling[0] > 0:
        raise InputError(p, f"smpl_scaling is {scaling[0]}, expected a positive scale", "check the file")
    parsed = try_parse_sequence_name(p.stem)
    return Motion.from_smpl("smpl24", poses.reshape(N, 24, 3), trans / scaling[0], fps=AISTPP_FPS,
                            music=parsed.music_id if parsed else "", name=p.stem)


def save_aistpp_pkl(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` in the AIST++ ``motions/*.pkl`` layout, atomically.

    ``smpl_poses`` (N, 72) float32, ``smpl_trans`` = the root translation in metres with
    ``smpl_scaling`` [1.0], ``smpl_loss`` 0.0. Only ``smpl24`` motions with rotations can be written.
    Motions at another frame rate are written as they are (AIST++ readers assume 60 fps).
    """
    p = Path(path)
    if motion.skeleton != "smpl24":
        what = f" ({motion.name})" if motion.name else ""
        raise InputError(p, f"an AIST++ pkl holds SMPL (smpl24) motion, not {motion.skeleton}{what}",
                         "write npz or bvh instead")
    if motion.rotations is None or motion.root is None:
        raise InputError(p, "a positions-only motion cannot be written as an AIST++ pkl",
                         "it needs joint rotations; write npz instead")
    N = motion.num_frames
    payload = {
        "smpl_poses": motion.rotations.reshape(N, 72).astype(np.float32),
        "smpl_trans": motion.root.astype(np.float32),
        "smpl_scaling": np.array([1.0], dtype=np.float32),
        "smpl_loss": 0.0,
    }
    with atomic_output(p) as tmp:
        with open(tmp, "wb") as fh:
            # protocol 2 keeps the file readable by the Python 2-era AIST++ tooling
            pickle.dump(payload, fh, protocol=2)
    return p


# --------------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------------
def _read_name_list(path: Path) -> list[str]:
    """One name a line; whitespace stripped, blank lines skipped (copies differ in both)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not a text file", "re-download it with the AIST++ annotations") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


class AISTPPReader:
    """AIST++ read from its own layout (see the module docstring).

    Args:
        root: the annotations folder (holding ``motions/``, ``splits/``, ``ignore_list.txt``).
        music_dir: where ``<music_id>.wav`` live; ``<root>/all_musics`` by default.
    """

    def __init__(self, root: str | os.PathLike, music_dir: str | os.PathLike | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(self.root, "AIST++ folder not found", missing_corpus_fix(self.root, HOW_TO_GET_AISTPP))
        self.motion_dir = self.root / "motions"
        if not self.motion_dir.is_dir():
            raise InputError(self.motion_dir, "AIST++ motions/ folder not found", HOW_TO_GET_AISTPP)
        self.music_dir = Path(music_dir) if music_dir is not None else self.root / "all_musics"
        self._ignored: frozenset[str] | None = None

    @property
    def ignored(self) -> frozenset[str]:
        """Names in ``ignore_list.txt``."""
        if self._ignored is None:
            path = self.root / "ignore_list.txt"
            if not path.is_file():
                raise InputError(path, "AIST++ ignore list not found (it ships with the annotations; an empty "
                                       "file means nothing is ignored)", HOW_TO_GET_AISTPP)
            self._ignored = frozenset(_read_name_list(path))
        return self._ignored

    def split_file(self, split: str) -> Path:
        return self.root / "splits" / f"crossmodal_{self._split_name(split)}.txt"

    @staticmethod
    def _split_name(split: str) -> str:
        try:
            return _SPLIT_ALIASES[split.lower()]
        except (KeyError, AttributeError):
            raise ValueError(f"unknown AIST++ split {split!r}; use train, val, test or all") from None

    def sequences(self, split: str = "all") -> list[str]:
        """Sequence names of ``split`` (train, val, test or all), ignore list applied.

        ``all`` is every ``motions/*.pkl``; the named splits come from ``splits/crossmodal_<split>.txt``
        and must all have a motion file.
        """
        split = self._split_name(split)
        if split == "all":
            names = sorted(p.stem for p in self.motion_dir.glob("*.pkl"))
            return [n for n in names if n not in self.ignored]
        path = self.split_file(split)
        if not path.is_file():
            raise InputError(path, f"AIST++ split file for '{split}' not found", HOW_TO_GET_AISTPP)
        names = [n for n in _read_name_list(path) if n not in self.ignored]
        missing = [n for n in names if not (self.motion_dir / f"{n}.pkl").is_file()]
        if missing:
            raise InputError(path, f"{len(missing)} listed sequence(s) have no motions/<name>.pkl, first "
                                   f"{missing[0]}", "complete the motions/ download or fix the split file")
        return names

    def __len__(self) -> int:
        return len(self.sequences("all"))

    def info(self, name: str) -> SequenceName:
        try:
            return parse_sequence_name(name)
        except ValueError as e:
            raise InputError(self.motion_dir / f"{name}.pkl", str(e), "use AIST++'s own file names") from None

    def motion_path(self, name: str) -> Path:
        return self.motion_dir / f"{name}.pkl"

    def load(self, name: str) -> Motion:
        """The sequence's motion (60 fps smpl24, metres); ``music`` holds the music id."""
        return load_aistpp_motion(self.motion_path(name))

    def music_path(self, name: str) -> Path:
        """The sequence's song, ``<music_dir>/<music_id>.wav`` (mp3 / flac / ogg also accepted)."""
        music_id = self.info(name).music_id
        for suffix in MUSIC_SUFFIXES:
            path = self.music_dir / f"{music_id}{suffix}"
            if path.is_file():
                return path
        raise InputError(self.music_dir / f"{music_id}.wav", f"music for {name} not found", HOW_TO_GET_AISTPP)
