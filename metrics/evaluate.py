"""``cli.py evaluate``: score a folder of generated sequences against a reference set, under a named protocol.

::

    python cli.py evaluate --task solo|duet|camera --pred DIR --gt DIR [--protocol NAME] [--out FILE.json]
                           [--beats DIR] [--cache-dir DIR] [--no-cache] [--smplx-models DIR]

Every run prints a table headed by the metrics version and the protocol (its name and every setting
that changes a number) and writes the same as json (atomically) when ``--out`` is given.

Protocols (:data:`PROTOCOLS`; ``--protocol`` defaults to the task's reference protocol so published
numbers stay comparable):

===================  ======  =================================================================
name                 task    what
===================  ======  =================================================================
``bailando``         solo    Bailando / AIST++ (metrics_new.py, beat_align_score.py): legacy
                             features at 1/60 s, predictions cropped to 1200 frames, reference
                             full length, first-frame root at the origin, z-scored with reference
                             statistics, reference = all sequences; BAS σ = 3 frames
``pasdeux-solo``     solo    corrected features, everything resampled to 60 fps, both sets cropped
                             to 1200 frames (20 s), beat parameters in seconds
``duolando``         duet    Duolando / DD100 (metrics.py, metrics_duet.py): legacy features at
                             1/60 s on 30 fps data, 24-joint reduction, reference = all duets
``pasdeux-duet``     duet    corrected features at the data's frame rate, beat parameters in seconds
``dancecamera3d``    camera  DanceCamera3D / DCM (evaluate.py): 75-frame chunks, Δ = 1/30 s, square
                             frustum, reference = the test split
``pasdeux-camera``   camera  the same with the real 16:9 frame for the shot features
===================  ======  =================================================================

Inputs
------
* **solo**: a folder of motion files (pasdeux ``.npz``, AIST++ ``.pkl``, DD100 ``.npy``, ``.bvh``;
  read by :func:`data.formats.load_motion`), ``smpl24`` or ``smplx55``; or an AIST++ root (``motions/``,
  ``splits/``, ``ignore_list.txt``): as ``--pred`` its test split (crossmodal test + val, Bailando's
  40), as ``--gt`` the protocol's reference set (all non-ignored sequences, or the test split).
* **duet**: a folder of pairs ``<name>_00.<ext>`` (follower) and ``<name>_01.<ext>`` (leader), DD100's
  naming; or a DD100 root (``motion/smplx/...``).
* **camera**: a folder of camera files, paired with the reference by name: DCM ``c<id>.json``
  CameraCentric files or DanceCamera3D result files (``camera_eye``, ``camera_x/y/z``, ``Fov``; named
  ``<id>``), or pasdeux camera npz files, whose layout is (:func:`read_camera_npz`)::

      camera    (N, 8) float  DCM's polar camera per frame [d, Px, Py, Pz, rx, ry, rz, fov]: raw VMD
                              values (MMD units, interest point in MMD's left-handed frame, radians,
                              vertical fov in degrees)
      fps       ()            frame rate (30, DCM's; default 30 when absent)
      joints    (T, J, 3)     optional: the dancer's joints, metres, pasdeux's frame (y up; DCM's frame
                              x 0.08 m per MMD unit), e.g. the 60 ``mmd60`` bones
      skeleton  ()            optional: the joints' skeleton name

  A generated camera without ``joints`` is scored with the reference dancer of the same name (as
  DanceCamera3D does). Or a DCM root (``amc_data_split_by_categories/``, ``split/``).

Beats (for BAS): ``--beats DIR`` holds, per sequence or per song, ``<name>.npz`` (``cli.py features``
output: ``beat_times`` in seconds, or ``beats`` frame indices with ``fps``), ``<name>.json`` (a list of
beat times in seconds, a dict with ``beats`` / ``beat_times`` in seconds, or Bailando's
``music_array`` whose column 53 is the 60 fps beat one-hot) or an audio file (beats computed by
:func:`data.music.compute_features`, cached). A sequence is looked up by its file stem, then by its
motion's ``music`` (path or id). Dataset roots supply their own music. Without beats BAS is ``n/a``.

Cache: per-sequence features are cached in ``--cache-dir`` (default ``$PASDEUX_CACHE/metrics`` or
``~/.cache/pasdeux/metrics``), keyed by the content hash of the input file(s), the metrics version
and every protocol setting the features depend on, so a second run over the same reference set only
hashes its files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from data.errors import InputError
from data.io import atomic_output, file_sha256, load_npz, save_npz_atomic
from metrics import METRICS_VERSION

TASKS = ("solo", "duet", "camera")
MOTION_SUFFIXES = (".npz", ".pkl", ".npy", ".bvh")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")


# --------------------------------------------------------------------------------------------------
# Protocols
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Protocol:
    """Every setting that changes a score. Named instances live in :data:`PROTOCOLS`."""

    name: str
    task: str
    summary: str
    data_fps: float
    """The frame rate the protocol was defined on; a run on other data says so in its notes."""
    legacy: bool = True
    """Kinetic / geometric features with the reference quirks (see :mod:`metrics.features`)."""
    resample_fps: float | None = None
    """Resample every motion to this rate first (``None``: keep the data's rate)."""
    crop_frames: int | None = None
    """Keep the first ``crop_frames`` frames of each generated sequence (``None``: full length)."""
    crop_reference: bool = False
    """Crop the reference sequences too (Bailando does not)."""
    zero_start: bool = True
    """Translate each sequence so its first-frame root is at the origin before the features."""
    reference_set: str = "all"
    """``all`` sequences of a dataset root, or its ``test`` split (a plain folder is used whole)."""
    beat_unit: str = "frames"
    """Unit of ``bas_sigma``, ``bas_smoothing`` and ``fact_order``: ``frames`` or ``seconds``."""
    bas_sigma: float = 3.0
    bas_smoothing: float = 5.0
    fact_sigma: float = 3.0
    fact_order: float = 10.0
    beats_before_crop: bool = True
    """Beat alignment on the full-length sequence (Bailando: full length, absolute positions)."""
    pfc_fps: float = 30.0
    """PFC is computed after resampling to this rate (EDGE's 30 fps)."""
    aspect: float | None = None
    """Camera frame aspect for the shot features (``None``: the reference square frustum)."""
    chunk_frames: int = 75
    """Camera kinetic chunk length, frames."""
    camera_frame_time: float | None = 1.0 / 30.0
    """Camera kinetic Δ, seconds (``None``: 1 / the camera's fps)."""
    contact_margin: float = 0.02
    """Duet contact: gap below which two bodies touch, metres (two 1 cm inflations)."""
    drop_constant_dims: bool = False
    """Leave feature dimensions that are constant over the reference set out of FID / Div (the
    reference protocols keep them, and their z-scores, divided by 1e-10, then dominate)."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"protocol {self.name}: task must be one of {TASKS}, got {self.task!r}")
        if not self.data_fps > 0:
            raise ValueError(f"protocol {self.name}: data_fps must be positive")
        if self.resample_fps is not None and not self.resample_fps > 0:
            raise ValueError(f"protocol {self.name}: resample_fps must be positive or None")
        if self.crop_frames is not None and self.crop_frames < 3:
            raise ValueError(f"protocol {self.name}: crop_frames must be >= 3 or None")
        if self.reference_set not in ("all", "test"):
            raise ValueError(f"protocol {self.name}: reference_set must be 'all' or 'test'")
        if self.beat_unit not in ("frames", "seconds"):
            raise ValueError(f"protocol {self.name}: beat_unit must be 'frames' or 'seconds'")
        if not (self.bas_sigma > 0 and self.fact_sigma > 0 and self.bas_smoothing >= 0 and self.fact_order > 0):
            raise ValueError(f"protocol {self.name}: beat sigmas and order must be positive, smoothing >= 0")
        if not self.pfc_fps > 0:
            raise ValueError(f"protocol {self.name}: pfc_fps must be positive")
        if self.aspect is not None and not self.aspect > 0:
            raise ValueError(f"protocol {self.name}: aspect must be positive or None")
        if self.chunk_frames < 5:
            raise ValueError(f"protocol {self.name}: chunk_frames must be >= 5 (the ±2 frame window)")
        if self.camera_frame_time is not None and not self.camera_frame_time > 0:
            raise ValueError(f"protocol {self.name}: camera_frame_time must be positive or None")
        if not self.contact_margin >= 0:
            raise ValueError(f"protocol {self.name}: contact_margin must be >= 0")

    # beat parameters in frames at the rate the beats are computed on
    def frames(self, value: float, fps: float) -> float:
        return value if self.beat_unit == "frames" else value * fps

    def settings(self) -> dict[str, Any]:
        return asdict(self)


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("bailando", "solo", "Bailando (CVPR 2022) on AIST++: metrics_new.py + beat_align_score.py",
             data_fps=60.0, legacy=True, crop_frames=1200, crop_reference=False, reference_set="all"),
    Protocol("pasdeux-solo", "solo", "pasdeux corrected: fixed features, 60 fps clock, 20 s crops on both sets",
             data_fps=60.0, legacy=False, resample_fps=60.0, crop_frames=1200, crop_reference=True,
             reference_set="all", beat_unit="seconds", bas_sigma=3 / 60, bas_smoothing=5 / 60,
             fact_sigma=3 / 60, fact_order=10 / 60, drop_constant_dims=True),
    Protocol("duolando", "duet", "Duolando (ICLR 2024) on DD100: metrics.py, metrics_duet.py, "
             "metric_footskating_dur.py", data_fps=30.0, legacy=True, reference_set="all"),
    Protocol("pasdeux-duet", "duet", "pasdeux corrected: fixed features at the data's frame rate, beats in seconds",
             data_fps=30.0, legacy=False, reference_set="all", beat_unit="seconds", bas_sigma=3 / 60,
             bas_smoothing=5 / 60, fact_sigma=3 / 60, fact_order=10 / 60, drop_constant_dims=True),
    Protocol("dancecamera3d", "camera", "DanceCamera3D (CVPR 2024) on DCM: scripts/evaluate.py",
             data_fps=30.0, reference_set="test", aspect=None),
    Protocol("pasdeux-camera", "camera", "pasdeux corrected: shot features on the real 16:9 frame",
             data_fps=30.0, reference_set="test", aspect=16.0 / 9.0, camera_frame_time=None,
             drop_constant_dims=True),
)}
DEFAULT_PROTOCOL = {"solo": "bailando", "duet": "duolando", "camera": "dancecamera3d"}


def get_protocol(name: str | None, task: str) -> Protocol:
    """The named protocol (the task's reference protocol when ``name`` is None), checked against the task."""
    if task not in TASKS:
        raise InputError(None, f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    name = name or DEFAULT_PROTOCOL[task]
    if name not in PROTOCOLS:
        raise InputError(None, f"unknown protocol {name!r}", f"use one of {', '.join(PROTOCOLS)}")
    p = PROTOCOLS[name]
    if p.task != task:
        fits = ", ".join(n for n, q in PROTOCOLS.items() if q.task == task)
        raise InputError(None, f"protocol {name!r} is for the {p.task} task, not {task}", f"use one of {fits}")
    return p


# --------------------------------------------------------------------------------------------------
# Feature cache
# --------------------------------------------------------------------------------------------------
def metrics_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$PASDEUX_CACHE/metrics``, else ``~/.cache/pasdeux/metrics``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("PASDEUX_CACHE")
    return (Path(env).expanduser() if env else Path("~/.cache/pasdeux").expanduser()) / "metrics"


    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        raise InputError(path, f"cannot read the file ({e.strerror or e})", "check its permissions") from None
    _SHA_MEMO[memo] = h.hexdigest()
    return _SHA_MEMO[memo]


class FeatureCache:
    """Per-sequence feature arrays on disk, keyed by input content + metrics version + settings."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.hits = 0
        self.computed = 0

    def key(self, files: Iterable[Path], settings: dict[str, Any]) -> str:
        blob = json.dumps({"version": METRICS_VERSION, "files": [file_sha256(Path(f)) for f in files],
                           "settings": settings}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get_or_compute(self, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        path = None if self.directory is None else self.directory / f"{key[:40]}.npz"
        if path is not None and path.is_file():
            try:
                z = load_npz(path)
                if str(z.pop("cache_key")) == key:
                    self.hits += 1
                    return z
            except (InputError, KeyError, ValueError):
                pass  # corrupt or foreign: recompute and overwrite
        arrays = compute()
        self.computed += 1
        if path is not None:
            try:
                save_npz_atomic(path, cache_key=np.asarray(key), **arrays)
            except OSError as e:
                warnings.warn(f"metrics cache not written ({path}: {e})", RuntimeWarning, stacklevel=2)
        return arrays


# --------------------------------------------------------------------------------------------------
# Finding the sequences
# --------------------------------------------------------------------------------------------------
@dataclass
class Item:
    """One sequence (solo), duet or camera to score."""

    name: str
    files: list[Path]
    """The input files its features depend on (hashed for the cache)."""
    load: Callable[[], Any]
    music: list[Path] = field(default_factory=list)
    """Audio of the sequence, when the dataset knows it."""


def _require_dir(path: Path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise InputError(p, f"{what} folder not found", "pass a folder of sequences (or a dataset root)")
    return p


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
    """Solo sequences of a folder or AIST++ root; ``split`` is ``test`` or ``all`` for dataset roots."""
    from data.formats import load_motion

    folder = _require_dir(folder, "motion")
    if _is_aistpp_root(folder):
        from data.datasets.aistpp import AISTPPReader

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
    """Duets (follower ``_00`` + leader ``_01``) of a folder or DD100 root."""
    from data.formats import load_motion

    folder = _require_dir(folder, "duet")
    if _is_dd100_root(folder):
        from data.datasets.dd100 import DD100Reader

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


def _camera_key(stem: str) -> str:
    """DCM result / CameraCentric names ``c66_6`` -> ``66_6``; other names unchanged."""
    m = re.match(r"^c(\d+(?:_\d+)?)$", stem)
    return m.group(1) if m else stem


@dataclass
class CameraSequence:
    """A camera as the metrics use it: DCM's eye and axes per frame, plus the dancer when known."""

    name: str
    eye: np.ndarray  # (N, 3) MMD units, DCM's (saba's right-handed) frame, as DCM's camera_eye
    right: np.ndarray  # (N, 3) camera_x
    up: np.ndarray  # (N, 3) camera_y
    forward: np.ndarray  # (N, 3) camera_z (the view direction)
    fov: np.ndarray  # (N,) vertical, degrees
    fps: float
    joints: np.ndarray | None  # (T, J, 3) metres, or None (borrow the reference's)

    @classmethod
    def from_polar(cls, name: str, polar: np.ndarray, fps: float, joints: np.ndarray | None) -> "CameraSequence":
        from metrics.camera import camera_axes

        eye, right, up, forward = camera_axes(polar)
        return cls(name, eye, right, up, forward, np.asarray(polar, dtype=np.float64)[:, 7], fps, joints)

    def __len__(self) -> int:
        return int(self.fov.shape[0])


def read_camera_json(path: Path) -> CameraSequence:
    """A DCM CameraCentric json, or a DanceCamera3D result json (eye and axes only, no d / P)."""
    from data.datasets.dcm import load_dcm_camera

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid JSON ({e})", "re-export the camera file") from None
    keys = ("camera_eye", "camera_x", "camera_y", "camera_z", "Fov")
    if isinstance(data, dict) and "Distance" not in data and all(k in data for k in keys):
        arrays = {}
        for k in keys:
            try:
                a = np.asarray(data[k], dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(path, f"'{k}' is not numeric", "check the file's format") from None
            arrays[k] = a.reshape(-1) if k == "Fov" else a
        n = arrays["Fov"].shape[0]
        bad = [k for k in keys[:4] if arrays[k].shape != (n, 3)]
        if bad or n < 2 or not all(np.isfinite(a).all() for a in arrays.values()):
            raise InputError(path, f"camera arrays must be finite, (N, 3) and (N,) with N >= 2 (bad: {bad or 'values'})",
                             "check the file's format")
        return CameraSequence(_camera_key(path.stem), arrays["camera_eye"], arrays["camera_x"], arrays["camera_y"],
                              arrays["camera_z"], arrays["Fov"], 30.0, None)
    track = load_dcm_camera(path)
    return CameraSequence.from_polar(_camera_key(path.stem), track.polar, track.fps, None)


def read_camera_npz(path: Path) -> CameraSequence:
    """Read a pasdeux camera npz (layout in the module docstring), validating every array."""
    from data.errors import check_finite

    z = load_npz(path)
    if "camera" not in z:
        raise InputError(path, "no 'camera' array: not a pasdeux camera npz",
                         "store the (N, 8) polar camera [d, Px, Py, Pz, rx, ry, rz, fov] as 'camera'")
    cam = np.asarray(z["camera"], dtype=np.float64)
    if cam.ndim != 2 or cam.shape[1] != 8 or cam.shape[0] < 2:
        raise InputError(path, f"'camera' has shape {cam.shape}, expected (N, 8) with N >= 2", "check the writer")
    check_finite(cam, path, "camera")
    if ((cam[:, 7] <= 0) | (cam[:, 7] >= 180)).any():
        raise InputError(path, "camera fov (column 7) outside (0, 180) degrees", "store the vertical fov in degrees")
    fps = float(z["fps"]) if "fps" in z else 30.0
    if not fps > 0:
        raise InputError(path, f"fps is {fps}", "store the camera's frame rate")
    joints = None
    if "joints" in z:
        joints = np.asarray(z["joints"], dtype=np.float64)
        if joints.ndim != 3 or joints.shape[2] != 3 or joints.shape[0] < 2:
            raise InputError(path, f"'joints' has shape {joints.shape}, expected (T, J, 3)", "check the writer")
        check_finite(joints, path, "joints")
    return CameraSequence.from_polar(path.stem, cam, fps, joints)


def camera_items(folder: Path, split: str) -> tuple[list[Item], str]:
    """Camera sequences of a folder (npz / DCM c*.json) or a DCM root."""
    folder = _require_dir(folder, "camera")
    if _is_dcm_root(folder):
        from data.datasets.dcm import DCMReader

        ds = DCMReader(folder)
        items = []
        for pid in ds.sequences(split):
            def load(pid=pid):
                motion, track = ds.load(pid)
                return CameraSequence.from_polar(pid, track.polar, track.fps, motion.joints)

            items.append(Item(pid, [ds.camera_path(pid), ds.motion_path(pid)], load))
        return items, f"DCM root, {split} split"
    items = []
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() == ".npz":
            items.append(Item(_camera_key(f.stem), [f], (lambda f=f: read_camera_npz(f))))
        elif f.suffix.lower() == ".json" and re.match(r"^c\d+(_\d+)?$", f.stem):
            items.append(Item(_camera_key(f.stem), [f], (lambda f=f: read_camera_json(f))))
    return items, "folder"


def _check_items(items: list[Item], folder: Path, what: str, minimum: int = 2) -> None:
    if len(items) < minimum:
        raise InputError(folder, f"found {len(items)} {what}; FID and Div need at least {minimum}",
                         "check the folder (see `cli.py evaluate --help` for the layouts read)")


# --------------------------------------------------------------------------------------------------
# Music beats
# --------------------------------------------------------------------------------------------------
class BeatFinder:
    """Beat times (seconds) of a sequence, from ``--beats DIR``, the dataset's music or the motion's."""

    def __init__(self, beats_dir: Path | None, music_cache: Path | None) -> None:
        self.dir = None if beats_dir is None else _require_dir(beats_dir, "beats")
        self.music_cache = music_cache

    def _read(self, path: Path) -> np.ndarray:
        suffix = path.suffix.lower()
        if suffix == ".npz":
            z = load_npz(path)
            if "beat_times" in z:
                return np.asarray(z["beat_times"], dtype=np.float64).reshape(-1)
            if "beats" in z and "fps" in z:
                return np.asarray(z["beats"], dtype=np.float64).reshape(-1) / float(z["fps"])
            raise InputError(path, "no 'beat_times' (or 'beats' with 'fps')", "write it with `cli.py features`")
        if suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise InputError(path, f"not valid JSON ({e})", "re-export the beat file") from None
            if isinstance(data, dict):
                if "music_array" in data:  # Bailando's 60 fps test json: beat one-hot in column 53
                    arr = np.asarray(data["music_array"], dtype=np.float64)
                    if arr.ndim != 2 or arr.shape[1] <= 53:
                        raise InputError(path, f"'music_array' has shape {arr.shape}, no column 53",
                                         "give Bailando's 438-d music json")
                    return np.nonzero(arr[:, 53] > 0)[0] / 60.0
                data = data.get("beat_times", data.get("beats"))
            try:
                times = np.asarray(data, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                times = None
            if times is None or not np.isfinite(times).all():
                raise InputError(path, "no beat times (a list of seconds, or 'beats' / 'beat_times')",
                                 "store beat times in seconds")
            return times
        from data.music import compute_features  # audio: beats at 60 fps, cached by data.music

        return compute_features(path, fps=60, feature_set="bailando438", cache_dir=self.music_cache).beat_times

    def times(self, names: Iterable[str], audio: Iterable[Path] = ()) -> tuple[np.ndarray | None, str]:
        """Beat times and where they came from, or ``(None, "")``."""
        names = [n for n in names if n]
        if self.dir is not None:
            for n in names:
                for suffix in (".npz", ".json", *AUDIO_SUFFIXES):
                    p = self.dir / f"{n}{suffix}"
                    if p.is_file():
                        return self._read(p), str(p)
        for p in audio:
            if p is not None and Path(p).is_file():
                return self._read(Path(p)), str(p)
        return None, ""


def _music_names(item: Item, music: str) -> tuple[list[str], list[Path]]:
    """Names to look beats up by (the sequence's, then its music's) and known audio files."""
    names = [item.name]
    audio = list(item.music)
    if music:
        p = Path(music)
        names.append(p.stem)
        if p.suffix.lower() in AUDIO_SUFFIXES:
            audio.append(p)
    return names, audio


# --------------------------------------------------------------------------------------------------
# Solo
# --------------------------------------------------------------------------------------------------
def _solo_joints(motion, path_for_errors) -> np.ndarray:
    from data.skeleton import to_smpl24

    try:
        return to_smpl24(motion.joints, motion.skeleton)
    except ValueError:
        raise InputError(path_for_errors, f"skeleton {motion.skeleton} has no SMPL joints for the motion features",
                         "give smpl24 or smplx55 motions") from None


def _solo_compute(item: Item, motion, protocol: Protocol, role: str) -> dict[str, np.ndarray]:
    from metrics.beat import bailando_motion_beats, fact_motion_beats, pfc_sequence
    from metrics.features import geometric_features, kinetic_features, resample, zero_start

    x = _solo_joints(motion, item.files[0])
    fps = float(motion.fps)
    if protocol.resample_fps is not None:
        x, fps = resample(x, fps, protocol.resample_fps), float(protocol.resample_fps)
    full = x
    if protocol.crop_frames is not None and (role == "pred" or protocol.crop_reference):
        x = x[: protocol.crop_frames]
    if x.shape[0] < 3:
        raise InputError(item.files[0], f"only {x.shape[0]} frames", "metrics need at least 3 frames")
    feat_in = zero_start(x) if protocol.zero_start else x
    beat_in = full if protocol.beats_before_crop else x
    return {
        "kinetic": kinetic_features(feat_in, fps, legacy=protocol.legacy),
        "geometric": geometric_features(feat_in, fps, legacy=protocol.legacy),
        "bailando_beats": bailando_motion_beats(beat_in, protocol.frames(protocol.bas_smoothing, fps)),
        "fact_beats": fact_motion_beats(beat_in, max(1, int(round(protocol.frames(protocol.fact_order, fps))))),
        "beat_frames": np.asarray(beat_in.shape[0]),
        "pfc": np.asarray(pfc_sequence(_pfc_input(x, fps, protocol), protocol.pfc_fps)),
        "fps": np.asarray(fps),
        "music": np.asarray(str(motion.music or "")),
    }


def _pfc_input(x: np.ndarray, fps: float, protocol: Protocol) -> np.ndarray:
    from metrics.features import resample

    return resample(x, fps, protocol.pfc_fps)


def _feature_settings(protocol: Protocol, role: str) -> dict[str, Any]:
    keep = ("legacy", "resample_fps", "crop_frames", "crop_reference", "zero_start", "beat_unit", "bas_smoothing",
            "fact_order", "beats_before_crop", "pfc_fps", "aspect", "chunk_frames", "camera_frame_time",
            "contact_margin", "task")
    s = {k: getattr(protocol, k) for k in keep}
    s["role"] = role
    return s


def _beat_scores(feats: dict[str, np.ndarray], times: np.ndarray | None, protocol: Protocol) -> tuple[float, float]:
    from metrics.beat import motion_centric_score, music_centric_score

    if times is None:
        return float("nan"), float("nan")
    fps = float(feats["fps"])
    n = int(feats["beat_frames"])
    beats = np.round(np.asarray(times) * fps).astype(np.int64)
    # bailando_bas / fact_beat_align, rebuilt from the cached motion beats with the same truncations
    bas = music_centric_score(beats[(beats >= 0) & (beats < n - 1)], feats["bailando_beats"],
                              protocol.frames(protocol.bas_sigma, fps))
    fact = motion_centric_score(beats[(beats >= 0) & (beats < n)], feats["fact_beats"],
                                protocol.frames(protocol.fact_sigma, fps))
    return bas, fact


# --------------------------------------------------------------------------------------------------
# Running a task
# --------------------------------------------------------------------------------------------------
def _progress(items: list, desc: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="seq", disable=True if len(items) < 8 else None, leave=False)


@dataclass
class SetFeatures:
    names: list[str]
    feats: list[dict[str, np.ndarray]]
    extra: dict[str, Any] = field(default_factory=dict)


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return _nan_to_none(x.item())
    return x


def _fid_rows(pred: np.ndarray, ref: np.ndarray, label: str, what: str, notes: list[str],
              protocol: Protocol) -> dict[str, dict]:
    from metrics.fid import fid_and_div

    r = fid_and_div(pred, ref, drop_constant=protocol.drop_constant_dims)
    if r["constant_dims"]:
        how = ("left out of FID_{0} / Div_{0}" if protocol.drop_constant_dims else
               "z-scored by 1e-10 as the reference does, so they can dominate FID_{0} / Div_{0}").format(label)
        notes.append(f"FID_{label}: {r['constant_dims']} of {pred.shape[1]} dimensions are constant over the reference "
                     f"set, {how}")
    if r["fid_fallback"]:
        notes.append(f"FID_{label}: sqrtm was not finite; 1e-5·I added to both covariances (reference fallback)")
    if r["fid_imag"] > 1e-3:
        notes.append(f"FID_{label}: discarded an imaginary part of {r['fid_imag']:.3g} in sqrtm (real part kept)")
    if pred.shape[0] <= pred.shape[1]:
        notes.append(f"FID_{label}: {pred.shape[0]} generated vectors in {pred.shape[1]} dimensions, so the "
                     "generated covariance is rank-deficient")
    return {
        f"FID_{label}": {"pred": r["fid"], "reference": None,
                         "definition": f"Fréchet distance on {what}, z-scored with reference statistics"},
        f"Div_{label}": {"pred": r["div"], "reference": r["div_reference"],
                         "definition": f"mean pairwise L2 distance of the z-scored {what}"},
    }


def evaluate_solo(pred_dir: Path, gt_dir: Path, protocol: Protocol, cache: FeatureCache,
                  beats: BeatFinder) -> dict[str, Any]:
    from metrics.beat import mean_score, pfc_score

    pred_items, pred_kind = solo_items(pred_dir, "test")
    gt_items, gt_kind = solo_items(gt_dir, protocol.reference_set)
    _check_items(pred_items, pred_dir, "generated sequences")
    _check_items(gt_items, gt_dir, "reference sequences")
    notes: list[str] = []
    sets = {}
    for role, items in (("pred", pred_items), ("reference", gt_items)):
        names, feats, bas, fact, sources, fps_seen = [], [], {}, {}, 0, set()
        settings = _feature_settings(protocol, role)
        for item in _progress(items, f"{role} features"):
            # called at once (the item is loaded only on a cache miss)
            f = cache.get_or_compute(cache.key(item.files, settings),
                                     lambda: _solo_compute(item, item.load(), protocol, role))
            names.append(item.name)
            feats.append(f)
            fps_seen.add(float(f["fps"]))
            times, src = beats.times(*_music_names(item, str(f["music"])))
            sources += bool(src)
            bas[item.name], fact[item.name] = _beat_scores(f, times, protocol)
        sets[role] = SetFeatures(names, feats, {"bas": bas, "fact": fact, "with_beats": sources, "fps": fps_seen})
    if protocol.resample_fps is None:
        for role in ("pred", "reference"):
            other = sets[role].extra["fps"] - {protocol.data_fps}
            if other:
                notes.append(f"{role}: motions at {sorted(other)} fps; the {protocol.name} protocol is defined at "
                             f"{protocol.data_fps:g} fps (its 1/60 s frame time is applied as is)")

    pk = np.stack([f["kinetic"] for f in sets["pred"].feats])
    rk = np.stack([f["kinetic"] for f in sets["reference"].feats])
    pg = np.stack([f["geometric"] for f in sets["pred"].feats])
    rg = np.stack([f["geometric"] for f in sets["reference"].feats])
    metrics = {}
    metrics.update(_fid_rows(pk, rk, "k", "kinetic features (72-d)", notes, protocol))
    metrics.update(_fid_rows(pg, rg, "g", "geometric features (32-d)", notes, protocol))
    order = ["FID_k", "FID_g", "Div_k", "Div_g"]
    metrics = {k: metrics[k] for k in order}
    bas_row, fact_row = {}, {}
    for role in ("pred", "reference"):
        bas_row[role], skipped = mean_score(sets[role].extra["bas"].values())
        fact_row[role], _ = mean_score(sets[role].extra["fact"].values())
        if skipped and sets[role].extra["with_beats"]:
            notes.append(f"{role}: {skipped} sequence(s) without a usable beat track left out of BAS")
    metrics["BAS"] = {**bas_row, "definition": "Bailando, music-beat-centric: mean over music beats of "
                                               "exp(-d²/2σ²) to the nearest motion beat"}
    metrics["BeatAlign"] = {**fact_row, "definition": "FACT, motion-beat-centric: mean over motion beats of "
                                                      "exp(-d²/2σ²) to the nearest music beat"}
    metrics["PFC"] = {"pred": pfc_score(f["pfc"] for f in sets["pred"].feats),
                      "reference": pfc_score(f["pfc"] for f in sets["reference"].feats),
                      "definition": "EDGE physical foot contact x 10⁴ (lower is better)"}
    return {
        "metrics": metrics,
        "pred": {"dir": str(pred_dir), "kind": pred_kind, "count": len(pred_items),
                 "with_beats": sets["pred"].extra["with_beats"]},
        "reference": {"dir": str(gt_dir), "kind": gt_kind, "count": len(gt_items),
                      "with_beats": sets["reference"].extra["with_beats"]},
        "per_sequence": {"pred": {"BAS": sets["pred"].extra["bas"], "BeatAlign": sets["pred"].extra["fact"]}},
        "notes": notes,
    }


def _duet_compute(item: Item, pair, protocol: Protocol, role: str, body_model) -> dict[str, np.ndarray]:
    from metrics.beat import bailando_motion_beats, fact_motion_beats, pfc_sequence
    from data.contact import capsule_contact
    from metrics.duet import (beat_echo_degree, cross_distance_features, mesh_contact,
                              body_vertices, slip_frames_corrected, slip_frames_reference)
    from metrics.features import geometric_features, kinetic_features, resample, zero_start

    follower, leader = pair
    fx = _solo_joints(follower, item.files[0])
    lx = _solo_joints(leader, item.files[1])
    fall, lall = follower.joints, leader.joints  # all joints of the files (55 for SMPL-X), as Duolando
    fps = float(follower.fps)
    if protocol.resample_fps is not None:
        fx, lx, fall, lall = (resample(a, fps, protocol.resample_fps) for a in (fx, lx, fall, lall))
        fps = float(protocol.resample_fps)
    crop = protocol.crop_frames if (role == "pred" or protocol.crop_reference) else None
    if crop is not None:
        fx, lx, fall, lall = fx[:crop], lx[:crop], fall[:crop], lall[:crop]
    if min(fx.shape[0], lx.shape[0]) < 3:
        raise InputError(item.files[0], "fewer than 3 frames", "metrics need at least 3 frames")
    feat_in = zero_start(fx) if protocol.zero_start else fx
    sigma, smooth = protocol.frames(protocol.bas_sigma, fps), protocol.frames(protocol.bas_smoothing, fps)
    slip_ref_f = slip_frames_reference(fall)
    slip_ref_l = slip_frames_reference(lall)
    slip_cor = slip_frames_corrected(fx, fps)
    contact = capsule_contact(fx, lx, protocol.contact_margin)
    out = {
        "kinetic": kinetic_features(feat_in, fps, legacy=protocol.legacy),
        "geometric": geometric_features(feat_in, fps, legacy=protocol.legacy),
        # key joints are body joints (<= 21), identical in the 24-joint reduction; world coordinates
        "cross": cross_distance_features(fx, lx),
        "bed": np.asarray(beat_echo_degree(fall, lall, sigma=sigma, smoothing=smooth)),
        "bailando_beats": bailando_motion_beats(fall, smooth),
        "fact_beats": fact_motion_beats(fall, max(1, int(round(protocol.frames(protocol.fact_order, fps))))),
        "beat_frames": np.asarray(fall.shape[0]),
        "slip_reference": np.asarray([slip_ref_f[0] + slip_ref_l[0], slip_ref_f[1] + slip_ref_l[1]]),
        "slip_corrected": np.asarray(slip_cor),
        "contact_capsule": np.asarray([int(contact.sum()), int(contact.shape[0])]),
        "pfc": np.asarray(pfc_sequence(_pfc_input(fx, fps, protocol), protocol.pfc_fps)),
        "fps": np.asarray(fps),
        "music": np.asarray(str(follower.music or leader.music or "")),
    }
    if body_model is not None and follower.rotations is not None and leader.rotations is not None:
        hit = mesh_contact(body_vertices(follower, body_model), body_vertices(leader, body_model),
                           protocol.contact_margin)
        out["contact_mesh"] = np.asarray([int(hit.sum()), int(hit.shape[0])])
    return out


def evaluate_duet(pred_dir: Path, gt_dir: Path, protocol: Protocol, cache: FeatureCache, beats: BeatFinder,
                  body_model=None) -> dict[str, Any]:
    from metrics.beat import mean_score, pfc_score
    from metrics.duet import pooled_rate

    pred_items, pred_kind = duet_items(pred_dir, "test")
    gt_items, gt_kind = duet_items(gt_dir, protocol.reference_set)
    _check_items(pred_items, pred_dir, "generated duets")
    _check_items(gt_items, gt_dir, "reference duets")
    notes: list[str] = []
    sets = {}
    mesh_tag = {"mesh": body_model is not None}
    for role, items in (("pred", pred_items), ("reference", gt_items)):
        feats, bas, with_beats, fps_seen = [], {}, 0, set()
        settings = {**_feature_settings(protocol, role), **mesh_tag}
        for item in _progress(items, f"{role} duets"):
            f = cache.get_or_compute(cache.key(item.files, settings),
                                     lambda: _duet_compute(item, item.load(), protocol, role, body_model))
            feats.append(f)
            fps_seen.add(float(f["fps"]))
            times, src = beats.times(*_music_names(item, str(f["music"])))
            with_beats += bool(src)
            bas[item.name], _ = _beat_scores(f, times, protocol)
        sets[role] = SetFeatures([i.name for i in items], feats,
                                 {"bas": bas, "with_beats": with_beats, "fps": fps_seen})
    if protocol.resample_fps is None:
        for role in ("pred", "reference"):
            other = sets[role].extra["fps"] - {protocol.data_fps}
            if other:
                notes.append(f"{role}: duets at {sorted(other)} fps; the {protocol.name} protocol is defined at "
                             f"{protocol.data_fps:g} fps")
    stack = lambda role, key: np.stack([f[key] for f in sets[role].feats])  # noqa: E731
    metrics: dict[str, dict] = {}
    metrics.update(_fid_rows(stack("pred", "kinetic"), stack("reference", "kinetic"), "k",
                             "follower kinetic features (72-d)", notes, protocol))
    metrics.update(_fid_rows(stack("pred", "geometric"), stack("reference", "geometric"), "g",
                             "follower geometric features (32-d)", notes, protocol))
    metrics.update(_fid_rows(stack("pred", "cross"), stack("reference", "cross"), "cd",
                             "leader-follower 10x10 key-joint distances (100-d)", notes, protocol))
    metrics = {k: metrics[k] for k in ("FID_k", "FID_g", "FID_cd", "Div_k", "Div_g", "Div_cd")}
    row = lambda fn: {r: fn(r) for r in ("pred", "reference")}  # noqa: E731
    metrics["BAS"] = {**row(lambda r: mean_score(sets[r].extra["bas"].values())[0]),
                      "definition": "follower vs music, Bailando's music-beat-centric form"}
    metrics["BED"] = {**row(lambda r: mean_score(float(f["bed"]) for f in sets[r].feats)[0]),
                      "definition": "beat echo degree: leader's motion beats echoed by the follower's"}
    metrics["slip% (ref)"] = {**row(lambda r: pooled_rate(f["slip_reference"] for f in sets[r].feats)),
                              "definition": "Duolando foot skating: pelvis > 0.03 m/frame (z zeroed), both "
                                            "ankles < 0.01 m/frame; pooled over followers and leaders"}
    metrics["slip% (corr)"] = {**row(lambda r: pooled_rate(f["slip_corrected"] for f in sets[r].feats)),
                               "definition": "horizontal pelvis > 0.9 m/s, ankles < 0.3 m/s; followers only"}
    metrics["contact% (capsule)"] = {**row(lambda r: pooled_rate(f["contact_capsule"] for f in sets[r].feats)),
                                     "definition": f"frames where body capsules come within "
                                                   f"{100 * protocol.contact_margin:g} cm"}
    if body_model is not None:
        ok = {r: [f["contact_mesh"] for f in sets[r].feats if "contact_mesh" in f] for r in ("pred", "reference")}
        metrics["contact% (mesh)"] = {**{r: pooled_rate(v) if v else float("nan") for r, v in ok.items()},
                                      "definition": f"frames where SMPL-X vertices come within "
                                                    f"{100 * protocol.contact_margin:g} cm"}
        for r, v in ok.items():
            if len(v) < len(sets[r].feats):
                notes.append(f"{r}: {len(sets[r].feats) - len(v)} duet(s) without rotations have no mesh contact")
    metrics["PFC"] = {**row(lambda r: pfc_score(f["pfc"] for f in sets[r].feats)),
                      "definition": "EDGE physical foot contact of the follower x 10⁴"}
    return {
        "metrics": metrics,
        "pred": {"dir": str(pred_dir), "kind": pred_kind, "count": len(pred_items),
                 "with_beats": sets["pred"].extra["with_beats"]},
        "reference": {"dir": str(gt_dir), "kind": gt_kind, "count": len(gt_items),
                      "with_beats": sets["reference"].extra["with_beats"]},
        "per_sequence": {"pred": {"BAS": sets["pred"].extra["bas"],
                                  "BED": {n: float(f["bed"]) for n, f in zip(sets["pred"].names, sets["pred"].feats)}}},
        "notes": notes,
    }


def _camera_compute(seq: CameraSequence, joints: np.ndarray, protocol: Protocol) -> dict[str, np.ndarray]:
    from metrics.camera import camera_kinetic_chunks, eye_metres, shot_features, visibility_mask

    n = min(len(seq), joints.shape[0])  # DCM's camera is one frame shorter than its motion
    joints = joints[:n]
    # the eye stays in MMD units for the kinetic features, as the reference reads it from its json
    eye, right, up, fwd, fov = seq.eye[:n], seq.right[:n], seq.up[:n], seq.forward[:n], seq.fov[:n]
    dt = protocol.camera_frame_time if protocol.camera_frame_time is not None else 1.0 / seq.fps
    eye_m = eye_metres(eye)
    square = visibility_mask(joints, eye_m, right, up, fwd, fov, None)
    wide = visibility_mask(joints, eye_m, right, up, fwd, fov, 16.0 / 9.0 if protocol.aspect is None else protocol.aspect)
    mask = square if protocol.aspect is None else wide
    return {
        "kinetic": camera_kinetic_chunks(eye, fwd, up, right, fov, protocol.chunk_frames, dt),
        "shot": shot_features(joints, eye_m, right, up, fwd, fov, mask, protocol.aspect),
        "mask_square": square,
        "mask_aspect": wide,
    }


def evaluate_camera(pred_dir: Path, gt_dir: Path, protocol: Protocol, cache: FeatureCache) -> dict[str, Any]:
    from metrics.camera import dancer_missing_rate, limbs_capture_difference
    from metrics.fid import fid_and_div

    pred_items, pred_kind = camera_items(pred_dir, "test")
    gt_items, gt_kind = camera_items(gt_dir, protocol.reference_set)
    _check_items(pred_items, pred_dir, "generated cameras")
    _check_items(gt_items, gt_dir, "reference cameras")
    notes: list[str] = []
    gt_by_name = {i.name: i for i in gt_items}
    missing = [i.name for i in pred_items if i.name not in gt_by_name]
    gt_loaded: dict[str, CameraSequence] = {}

    def gt_seq(name: str) -> CameraSequence:
        if name not in gt_loaded:
            gt_loaded[name] = gt_by_name[name].load()
        return gt_loaded[name]

    feats: dict[str, dict[str, dict]] = {"pred": {}, "reference": {}}
    aspect = 16.0 / 9.0 if protocol.aspect is None else protocol.aspect
    aspect_tag = "16:9" if abs(aspect - 16.0 / 9.0) < 1e-9 else f"{aspect:.3g}:1"
    for role, items in (("reference", gt_items), ("pred", pred_items)):
        settings = _feature_settings(protocol, role)
        for item in _progress(items, f"{role} cameras"):
            files = list(item.files)
            borrow = None
            if role == "pred":
                # the joints may come from the reference of the same name: hash that file too
                if item.name in gt_by_name:
                    files += gt_by_name[item.name].files
                borrow = item.name

            def compute(item=item, borrow=borrow):
                seq = item.load()
                joints = seq.joints
                if joints is None:
                    if borrow not in gt_by_name:
                        raise InputError(item.files[0], "camera has no 'joints' and no reference of the same name "
                                                        "to take the dancer from", "store the dancer's joints")
                    joints = gt_seq(borrow).joints
                    if joints is None:
                        raise InputError(gt_by_name[borrow].files[0], "reference camera has no dancer joints",
                                         "store 'joints' in the reference camera npz")
                return _camera_compute(seq, joints, protocol)

            feats[role][item.name] = cache.get_or_compute(cache.key(files, settings), compute)
    if missing:
        notes.append(f"{len(missing)} generated camera(s) have no reference of the same name (no LCD for them), "
                     f"first {missing[0]!r}")
    pk = np.concatenate([f["kinetic"] for f in feats["pred"].values()])
    rk = np.concatenate([f["kinetic"] for f in feats["reference"].values()])
    ps = np.concatenate([f["shot"] for f in feats["pred"].values()])
    rs = np.concatenate([f["shot"] for f in feats["reference"].values()])
    if min(len(pk), len(rk)) < 2:
        raise InputError(pred_dir if len(pk) < 2 else gt_dir,
                         f"fewer than 2 camera chunks of {protocol.chunk_frames} frames",
                         "cameras must be longer (DanceCamera3D cuts 2.5 s chunks)")
    metrics: dict[str, dict] = {}
    metrics.update(_fid_rows(pk, rk, "k", f"camera kinetic features of {protocol.chunk_frames}-frame chunks (10-d)",
                             notes, protocol))
    r = fid_and_div(ps, rs, drop_constant=protocol.drop_constant_dims)
    metrics["FID_s"] = {"pred": r["fid"], "reference": None,
                        "definition": "Fréchet distance on per-frame shot features (2-d), z-scored with reference stats"}
    metrics["Div_s"] = {"pred": r["div"], "reference": r["div_reference"],
                        "definition": "mean pairwise L2 distance of the z-scored shot features"}
    metrics = {k: metrics[k] for k in ("FID_k", "FID_s", "Div_k", "Div_s")}
    paired = [n for n in feats["pred"] if n in feats["reference"]]
    for tag, key, label in (("square", "mask_square", "square frustum (reference)"),
                            (aspect_tag, "mask_aspect", f"{aspect_tag} frame")):
        metrics[f"DMR ({tag})"] = {
            "pred": dancer_missing_rate(f[key] for f in feats["pred"].values()),
            "reference": dancer_missing_rate(f[key] for f in feats["reference"].values()),
            "definition": f"frames with no visible joint / all frames, {label}"}
        metrics[f"LCD ({tag})"] = {
            "pred": limbs_capture_difference([feats["pred"][n][key] for n in paired],
                                             [feats["reference"][n][key] for n in paired]) if paired else float("nan"),
            "reference": None,
            "definition": f"mean share of joints whose visibility differs from the reference camera's, {label}"}
    return {
        "metrics": metrics,
        "pred": {"dir": str(pred_dir), "kind": pred_kind, "count": len(pred_items), "paired": len(paired)},
        "reference": {"dir": str(gt_dir), "kind": gt_kind, "count": len(gt_items)},
        "notes": notes,
    }


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------
def _protocol_lines(p: Protocol) -> list[str]:
    lines = [f"{p.summary}"]
    if p.task in ("solo", "duet"):
        quirks = ("kinetic: acceleration precedence bug, frame time 1/60 s; geometric: 1/120 s velocities, "
                  "move ignores j4, SMPL-template thresholds") if p.legacy else \
            "corrected: true acceleration and frame time, move uses j4, thresholds from the dancer's own body"
        lines.append(f"features: legacy={p.legacy} ({quirks})")
        rs = f"resampled to {p.resample_fps:g} fps" if p.resample_fps else f"data frame rate (protocol: {p.data_fps:g} fps)"
        crop = "full length" if p.crop_frames is None else (
            f"first {p.crop_frames} frames of {'both sets' if p.crop_reference else 'generated sequences'}")
        lines.append(f"preprocessing: {rs}; {crop}; first-frame root at origin={p.zero_start}; z-score with "
                     "reference statistics")
        unit = "frames" if p.beat_unit == "frames" else "s"
        lines.append(f"beats: BAS σ={p.bas_sigma:.4g} {unit}, speed smoothing σ={p.bas_smoothing:.4g} {unit}; FACT "
                     f"σ={p.fact_sigma:.4g} {unit}, minima order {p.fact_order:.4g} {unit}; "
                     f"{'full-length' if p.beats_before_crop else 'cropped'} sequences; PFC at {p.pfc_fps:g} fps")
    else:
        ft = f"Δ={p.camera_frame_time:.4g} s" if p.camera_frame_time else "Δ=1/fps"
        frustum = "square frustum (vertical fov both ways)" if p.aspect is None else f"{p.aspect:.4g}:1 frame"
        lines.append(f"camera kinetic: {p.chunk_frames}-frame chunks, ±2 frame window, {ft}; shot features and "
                     f"FID_s on a {frustum}; z-score with reference statistics")
    which = "all sequences" if p.reference_set == "all" else "the test split"
    lines.append(f"reference set: {which} of a dataset root (a plain folder is taken whole); "
                 f"constant dimensions {'dropped' if p.drop_constant_dims else 'kept'}")
    return lines


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return "n/a"
    if abs(v) < 5e-5:
        return "0.0000"  # FID of identical sets comes out as ±1e-9 from sqrtm; the json keeps the raw value
    return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"


def format_table(result: dict[str, Any]) -> str:
    """The printed report: version + protocol header, one row per metric, notes."""
    p = result["protocol"]
    out = [f"pasdeux metrics {result['metrics_version']}  task={result['task']}  protocol={p['name']}"]
    out += [f"  {line}" for line in result["protocol_lines"]]
    pred, ref = result["pred"], result["reference"]
    beats = lambda s: f", beats for {s['with_beats']}/{s['count']}" if "with_beats" in s else ""  # noqa: E731
    out.append(f"  pred: {pred['count']} from {pred['dir']} ({pred['kind']}{beats(pred)})")
    out.append(f"  reference: {ref['count']} from {ref['dir']} ({ref['kind']}{beats(ref)})")
    c = result["cache"]
    out.append(f"  cache: {c['hits']} hit(s), {c['computed']} computed ({c['dir'] or 'disabled'})")
    width = max(len(k) for k in result["metrics"]) + 2
    out.append("")
    out.append(f"  {'metric':<{width}}{'pred':>12}{'reference':>12}")
    for name, row in result["metrics"].items():
        out.append(f"  {name:<{width}}{_fmt(row['pred']):>12}{_fmt(row['reference']):>12}")
    for note in result["notes"]:
        out.append(f"  note: {note}")
    return "\n".join(out)


def run_evaluate(task: str, pred: str | os.PathLike, gt: str | os.PathLike, protocol: str | None = None,
                 out: str | os.PathLike | None = None, beats: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                 smplx_models: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run one evaluation; returns the result dict (also written to ``out`` as json when given).

    In the returned dict an undefined score is NaN and a score that does not apply is None; the json
    writes both as null.
    """
    proto = get_protocol(protocol, task)
    cache_path = metrics_cache_dir(cache_dir) if use_cache else None
    cache = FeatureCache(cache_path)
    pred_dir, gt_dir = Path(pred), Path(gt)
    if out is not None and Path(out).is_dir():
        raise InputError(out, "is a folder", "give a file name for --out, e.g. scores.json")
    if task == "solo":
        body = evaluate_solo(pred_dir, gt_dir, proto, cache, BeatFinder(_opt(beats), None))
    elif task == "duet":
        model = None
        if smplx_models is not None:
            from data.body_model import BodyModel

            model = BodyModel(smplx_models, model_type="smplx")
        body = evaluate_duet(pred_dir, gt_dir, proto, cache, BeatFinder(_opt(beats), None), model)
    else:
        if beats is not None:
            warnings.warn("--beats is not used by the camera task", RuntimeWarning, stacklevel=2)
        body = evaluate_camera(pred_dir, gt_dir, proto, cache)
    result = {
        "metrics_version": METRICS_VERSION,
        "task": task,
        "protocol": proto.settings(),
        "protocol_lines": _protocol_lines(proto),
        **body,
        "cache": {"dir": None if cache_path is None else str(cache_path), "hits": cache.hits,
                  "computed": cache.computed},
    }
    if out is not None:
        with atomic_output(out) as tmp:
            # undefined scores (NaN) become null: strict json has no NaN
            tmp.write_text(json.dumps(_nan_to_none(result), indent=2, ensure_ascii=False, allow_nan=False),
                           encoding="utf-8")
    return result


def _opt(p: str | os.PathLike | None) -> Path | None:
    return None if p is None else Path(p)


def main(args) -> int:
    """What ``cli.py evaluate`` runs (``args`` from its argparse sub-parser)."""
    result = run_evaluate(args.task, args.pred, args.gt, protocol=args.protocol, out=args.out, beats=args.beats,
                          cache_dir=args.cache_dir, use_cache=not args.no_cache, smplx_models=args.smplx_models)
    print(format_table(result))
    if args.out is not None:
        print(f"  written: {args.out}")
    sys.stdout.flush()
    return 0
