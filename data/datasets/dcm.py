"""DCM (DanceCamera3D's dance-camera-music dataset): its layout, file readers and writers, the 60 MMD bones.

Layout, as DanceCamera3D's preprocessing leaves it (``DCM_data/``)::

    <root>/amc_data_split_by_categories/{Train,Validation,Test}/
        Audio/a{i}_{k}_{G}.wav                         song i, piece k, genre letter G in C J K E
        CameraCentric/c{i}_{k}.json                    per-frame camera (30 fps)
        Simplified_MotionGlobalTransform/m{i}_{k}_gt.json   per-frame 60-bone global transforms
    <root>/split/{train,validation,test}.json           ["C_66_6", "K_28", ...] (genre_song[_piece])
    <root>/split/music_categories.json                  {"Chinese": [song ids], ...}
    <root>/split/long2short.json                        {"song": [[start, end], ...]} (inclusive frames)

Songs that were not cut into pieces carry no ``_{k}`` (``a28_K.wav``, ``c28.json``, ``m28_gt.json``).

Units and axes
--------------
DCM's motion positions and the camera's ``camera_eye`` are in MMD units, in saba's right-handed frame
(MMD's left-handed coordinates with z negated), which for a model in its default orientation is
pasdeux's frame: converting is a pure scale, 1 MMD unit = 0.08 m (:func:`data.camera.dcm_to_metres`).
The camera's raw VMD values (``Position``, the interest point) are in MMD's left-handed frame. The
units, the camera convention and the camera type, :class:`data.camera.CameraTrack`, live in
:mod:`data.camera`; this module reads and writes DCM's files.

The 60 bones (``mmd60`` skeleton, ``data/assets/mmd60_skeleton.json``) are DCM's ``simplify_bones``
order; :data:`SMPLX_TO_MMD` says where each sits on an SMPL-X body so the synthetic corpus can write
DCM-shaped motions from SMPL-X joints (:func:`mmd_joints_from_smplx`).
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.camera import CAMERA_FPS, CameraTrack, dcm_to_metres
from data.errors import InputError, check_finite, missing_corpus_fix
from data.io import atomic_output
from data.motion import Motion
from data.skeleton import get_skeleton

DCM_FPS = CAMERA_FPS  # motion and camera; pasdeux's camera rate is DCM's

NUM_BONES = 60
_BLOCK = 16  # one column-major 4x4 matrix per bone; translation at offsets 12, 13, 14

HOW_TO_GET_DCM = ("request DCM through the EULA linked from github.com/Carmenw1203/DanceCamera3D-Official, "
                  "run its preprocessing (sh/data_preprocess.sh), and pass the DCM_data folder that holds "
                  "amc_data_split_by_categories/ and split/")

GENRES = {"C": "Chinese", "J": "Japanese", "K": "Korean", "E": "English"}
SPLIT_FOLDERS = {"train": "Train", "val": "Validation", "test": "Test"}
_SPLIT_ALIASES = {"train": "train", "val": "val", "validation": "val", "test": "test", "all": "all"}
SPLIT_JSON = {"train": "train.json", "val": "validation.json", "test": "test.json"}
MODALITIES = ("Audio", "CameraCentric", "Simplified_MotionGlobalTransform")


# --------------------------------------------------------------------------------------------------
# SMPL-X joints -> the 60 MMD bones
# --------------------------------------------------------------------------------------------------
def _mmd_bone_names() -> tuple[str, ...]:
    """The 60 bone names in DCM's order (``Mmd_Skeleton.simplify_bones``); MMD writes digits full-width."""
    fingers = [f"{f}{n}" for f, ns in (("親指", "０１２"), ("人指", "１２３"), ("中指", "１２３"),
                                       ("薬指", "１２３"), ("小指", "１２３")) for n in ns]
    leg = ["足", "ひざ", "足首", "つま先"]
    arm = ["肩P", "肩", "腕", "ひじ", "手首", "腕捩", "手捩", *fingers]
    return ("下半身", "上半身", "上半身2", "首", "頭", "両目", "左目", "右目",
            *[f"左{b}" for b in leg], *[f"右{b}" for b in leg],
            *[f"左{b}" for b in arm], *[f"右{b}" for b in arm])


MMD_BONES: tuple[str, ...] = _mmd_bone_names()
"""The 60 DCM bones, in order; ``data/assets/mmd60_skeleton.json`` lists the same names."""

_Weights = tuple[tuple[str, float], ...]


def _side_weights(s: str) -> tuple[list[_Weights], list[_Weights]]:
    """(leg, arm) bone weights of side ``s`` ("left" / "right"), in DCM's order within each block."""
    leg: list[_Weights] = [
        # 足 is the hip joint; つま先 sits at SMPL-X's foot joint (the ball of the foot).
        ((f"{s}_hip", 1.0),), ((f"{s}_knee", 1.0),), ((f"{s}_ankle", 1.0),), ((f"{s}_foot", 1.0),),
    ]
    arm: list[_Weights] = [
        # 肩P (the shoulder-raise control bone) sits where 肩 does, at the collar.
        ((f"{s}_collar", 1.0),), ((f"{s}_collar", 1.0),),
        ((f"{s}_shoulder", 1.0),), ((f"{s}_elbow", 1.0),), ((f"{s}_wrist", 1.0),),
        # Twist bones sit part-way along their segment; PMX models put them near the middle.
        ((f"{s}_shoulder", 0.5), (f"{s}_elbow", 0.5)),
        ((f"{s}_elbow", 0.5), (f"{s}_wrist", 0.5)),
        # MMD's 親指0-2 / 人指1-3 ... are the same three joints per finger as SMPL-X's 1-3.
        *[((f"{s}_{finger}{n}", 1.0),) for finger in ("thumb", "index", "middle", "ring", "pinky")
          for n in (1, 2, 3)],
    ]
    return leg, arm


def _build_smplx_to_mmd() -> tuple[tuple[str, _Weights], ...]:
    waist: _Weights = (("pelvis", 0.5), ("spine1", 0.5))
    body: list[_Weights] = [
        # MMD's 下半身 and 上半身 both start at the waist (they point away from each other), so they
        # coincide, as they do in DCM's data. The waist is taken halfway from pelvis to spine1.
        waist,
        waist,
        (("spine3", 1.0),),  # 上半身2: the chest joint the neck and shoulders hang from
        (("neck", 1.0),),  # 首
        (("head", 1.0),),  # 頭
        (("left_eye_smplhf", 0.5), ("right_eye_smplhf", 0.5)),  # 両目: between the eyes
        (("left_eye_smplhf", 1.0),),  # 左目
        (("right_eye_smplhf", 1.0),),  # 右目
    ]
    (left_leg, left_arm), (right_leg, right_arm) = _side_weights("left"), _side_weights("right")
    weights = body + left_leg + right_leg + left_arm + right_arm
    assert len(weights) == len(MMD_BONES) == NUM_BONES
    return tuple(zip(MMD_BONES, weights))


SMPLX_TO_MMD: tuple[tuple[str, _Weights], ...] = _build_smplx_to_mmd()
"""For each of the 60 MMD bones, in DCM's order: ``(bone name, ((smplx55 joint, weight), ...))``.

A bone's position is the weighted sum of those SMPL-X joint positions (weights sum to 1, so the map
commutes with translation). In words:

=================================  ==========================================================
MMD bone(s)                        SMPL-X joint(s)
=================================  ==========================================================
下半身, 上半身 (waist)              midpoint of pelvis and spine1 (MMD starts both there)
上半身2                             spine3
首, 頭                              neck, head
両目 / 左目 / 右目                   midpoint of the eyes / left_eye_smplhf / right_eye_smplhf
足, ひざ, 足首, つま先               hip, knee, ankle, foot (ball of the foot)
肩P, 肩                             collar (肩P is a control bone at 肩's position)
腕, ひじ, 手首                       shoulder, elbow, wrist
腕捩 / 手捩                          midpoint shoulder-elbow / midpoint elbow-wrist
親指0-2, 人指1-3, 中指1-3,          thumb1-3, index1-3, middle1-3,
薬指1-3, 小指1-3                     ring1-3, pinky1-3
=================================  ==========================================================
Right-side bones (右...) take the right_* joints.
"""


@functools.cache
def smplx_to_mmd_matrix() -> np.ndarray:
    """(60, 55) weights: ``mmd = W @ smplx`` per frame and axis."""
    smplx = get_skeleton("smplx55")
    W = np.zeros((NUM_BONES, smplx.num_joints))
    for m, (_, weights) in enumerate(SMPLX_TO_MMD):
        for joint, w in weights:
            W[m, smplx.index(joint)] += w
    W.setflags(write=False)
    return W


def mmd_joints_from_smplx(joints_smplx55: np.ndarray) -> np.ndarray:
    """SMPL-X joint positions ``(..., 55, 3)`` -> the 60 MMD bone positions ``(..., 60, 3)``.

    Same units and frame in and out (convert with :func:`data.camera.metres_to_dcm` to write DCM files).
    """
    x = np.asarray(joints_smplx55, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2:] != (55, 3):
        raise ValueError(f"expected SMPL-X joints (..., 55, 3), got shape {x.shape}")
    return np.einsum("mj,...jc->...mc", smplx_to_mmd_matrix(), x)  # (..., 60, 3)


# --------------------------------------------------------------------------------------------------
# JSON plumbing
# --------------------------------------------------------------------------------------------------
def _read_json(path: str | os.PathLike) -> Any:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found", "check the path")
    try:
        with open(p, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(p, f"not valid JSON ({e})", "re-export or re-download the file") from None


def _write_json(obj: Any, path: str | os.PathLike) -> Path:
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            # Compact: the per-frame 60x16 transforms make indented files much larger and slower
            # to write; any JSON reader (DCM's own included) takes either.
            json.dump(obj, fh, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return Path(path)


def _numeric(value: Any, shape: tuple, path, what: str) -> np.ndarray:
    """A JSON list -> float64 array of ``shape`` (``None`` = any size), finite; InputError otherwise."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(path, f"'{what}' is not a numeric array", "check the file's format") from None
    ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
    if not ok:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise InputError(path, f"'{what}' has shape {arr.shape}, expected {want}", "check the file's format")
    check_finite(arr, path, f"'{what}'")
    return arr


def _vec3_list(value: Any, path, what: str) -> np.ndarray:
    """Per-frame 3-vectors as ``[[x, y, z], ...]`` or ``[{"x":..,"y":..,"z":..}, ...]`` -> (N, 3)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        try:
            value = [[v["x"], v["y"], v["z"]] for v in value]
        except (KeyError, TypeError):
            raise InputError(path, f"'{what}' entries lack x/y/z", "check the file's format") from None
    return _numeric(value, (None, 3), path, what)


# --------------------------------------------------------------------------------------------------
# Motion: Simplified_MotionGlobalTransform/m*_gt.json
# --------------------------------------------------------------------------------------------------
def read_motion_json(path: str | os.PathLike) -> np.ndarray:
    """Read a DCM motion file -> ``(T, 60, 3)`` bone positions in DCM units (MMD units, saba frame).

    ``BoneKeyFrameNumber`` frames are read from ``BoneKeyFrameTransformRecord``, ordered by their
    ``FrameTime`` when present; each record's ``Transform`` is 60 column-major 4x4 matrices, of which
    the translation (offsets 12, 13, 14 of each 16-block) is the bone's world position.
    """
    data = _read_json(path)
    if not isinstance(data, dict) or "BoneKeyFrameTransformRecord" not in data:
        raise InputError(path, "no 'BoneKeyFrameTransformRecord': not a DCM motion file",
                         "give a Simplified_MotionGlobalTransform/m*_gt.json file")
    records = data["BoneKeyFrameTransformRecord"]
    if not isinstance(records, list) or not records:
        raise InputError(path, "'BoneKeyFrameTransformRecord' is empty or not a list", "check the file")
    n = data.get("BoneKeyFrameNumber", len(records))
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(path, f"'BoneKeyFrameNumber' is {n!r}, expected a positive integer", "check the file")
    if len(records) < n:
        raise InputError(path, f"'BoneKeyFrameNumber' says {n} frames but only {len(records)} records exist",
                         "the file is truncated; re-export it")
    if not all(isinstance(r, dict) and "Transform" in r for r in records):
        raise InputError(path, "a record has no 'Transform'", "check the file's format")
    if all("FrameTime" in r for r in records):
        # DCM sorts by FrameTime before using the records; a stable sort keeps equal times in order.
        records = sorted(records, key=lambda r: r["FrameTime"])
    transforms = [r["Transform"] for r in records[:n]]
    lengths = {len(t) if isinstance(t, list) else -1 for t in transforms}
    if lengths != {NUM_BONES * _BLOCK}:
        bad = sorted(lengths - {NUM_BONES * _BLOCK})[0]
        raise InputError(path, f"a 'Transform' holds {bad} values, expected {NUM_BONES * _BLOCK} "
                               f"({NUM_BONES} bones x 16)", "give a Simplified (60-bone) motion file")
    flat = _numeric(transforms, (n, NUM_BONES * _BLOCK), path, "Transform")
    return flat.reshape(n, NUM_BONES, _BLOCK)[:, :, 12:15].copy()  # (T, 60, 3)


def write_motion_json(positions_dcm: np.ndarray, path: str | os.PathLike) -> Path:
    """Write ``(T, 60, 3)`` bone positions (DCM units) as a DCM motion file, atomically.

    Each bone gets an identity rotation: DCM's readers use only the translation.
    """
    pos = np.asarray(positions_dcm, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[1:] != (NUM_BONES, 3) or pos.shape[0] == 0:
        raise ValueError(f"expected (T, {NUM_BONES}, 3) positions, got {pos.shape}")
    blocks = np.tile(np.eye(4).reshape(16), (pos.shape[0], NUM_BONES, 1))  # (T, 60, 16)
    blocks[:, :, 12:15] = pos
    records = [{"FrameTime": f, "Transform": blocks[f].reshape(-1).tolist()} for f in range(pos.shape[0])]
    return _write_json({"BoneKeyFrameNumber": int(pos.shape[0]), "BoneKeyFrameTransformRecord": records},
                       path)


def load_dcm_motion(path: str | os.PathLike) -> Motion:
    """A DCM motion file as a positions-only :class:`Motion` (``mmd60``, 30 fps, metres)."""
    joints = dcm_to_metres(read_motion_json(path))  # (T, 60, 3)
    return Motion(skeleton="mmd60", fps=DCM_FPS, joints=joints, name=Path(path).stem)


# --------------------------------------------------------------------------------------------------
# Camera: CameraCentric/c*.json and DanceCamera3D result files
# --------------------------------------------------------------------------------------------------
_CAMERA_VEC_KEYS = ("camera_eye", "camera_z", "camera_y", "camera_x")
_POLAR_KEYS = ("Distance", "Position", "Rotation", "Fov")
_CAMERA_FILES = "give a CameraCentric/c*.json file or a DanceCamera3D result file (camera_eye, camera_x/y/z, Fov)"


def read_camera_json(path: str | os.PathLike) -> CameraTrack:
    """Read a camera json into a :class:`data.camera.CameraTrack` (named after the file, 30 fps).

    Two kinds of file are read:

    * a DCM CameraCentric file: ``FrameTime`` N, ``Distance`` (N,), ``Position`` (N, 3), ``Rotation``
      (N, 3) radians, ``Fov`` (N,) degrees, and optionally ``camera_eye``, ``camera_z``, ``camera_y``,
      ``camera_x`` (N, 3), which go to the track's ``extras`` (the track's own geometry is computed
      from the VMD values);
    * a DanceCamera3D result file, which holds only ``camera_eye``, ``camera_x/y/z`` and ``Fov`` (none
      of ``Distance``, ``Position``, ``Rotation``): the track is rebuilt from the eye and axes
      (:meth:`data.camera.CameraTrack.from_frame`; the stored arrays go to ``extras``).

    3-vectors may be ``[x, y, z]`` lists or ``{"x": .., "y": .., "z": ..}`` objects.
    """
    data = _read_json(path)
    if not isinstance(data, dict):
        raise InputError(path, "not a DCM camera file (the top level is not an object)", "check the file")
    if not any(k in data for k in _POLAR_KEYS[:3]) and any(k in data for k in _CAMERA_VEC_KEYS):
        return _read_result_camera(data, path)
    missing = [k for k in _POLAR_KEYS if k not in data]
    if missing:
        raise InputError(path, f"no {', '.join(repr(k) for k in missing)}: not a DCM CameraCentric file",
                         _CAMERA_FILES)
    arrays: dict[str, Any] = {
        "Distance": _numeric(data["Distance"], (None,), path, "Distance"),
        "Position": _vec3_list(data["Position"], path, "Position"),
        "Rotation": _vec3_list(data["Rotation"], path, "Rotation"),
        "Fov": _numeric(data["Fov"], (None,), path, "Fov"),
    }
    for key in _CAMERA_VEC_KEYS:
        if key in data:
            arrays[key] = _vec3_list(data[key], path, key)
    N = _check_camera_arrays(arrays, path)
    frame_time = data.get("FrameTime", N)
    if isinstance(frame_time, bool) or not isinstance(frame_time, int) or frame_time != N:
        raise InputError(path, f"'FrameTime' is {frame_time!r} but the arrays hold {N} frames",
                         "the file is damaged")
    extras = {k: arrays[k] for k in _CAMERA_VEC_KEYS if k in arrays}
    return CameraTrack(distance=arrays["Distance"], interest=arrays["Position"], rotation=arrays["Rotation"],
                       fov=arrays["Fov"], fps=DCM_FPS, name=Path(path).stem, extras=extras)


def _read_result_camera(data: dict, path) -> CameraTrack:
    """A DanceCamera3D result file (eye, axes and fov only) as a track; see :func:`read_camera_json`."""
    missing = [k for k in (*_CAMERA_VEC_KEYS, "Fov") if k not in data]
    if missing:
        raise InputError(path, f"no {', '.join(repr(k) for k in missing)}: not a DanceCamera3D result camera "
                               "file", _CAMERA_FILES)
    arrays = {k: _vec3_list(data[k], path, k) for k in _CAMERA_VEC_KEYS}
    fov = data["Fov"]
    if isinstance(fov, list) and fov and isinstance(fov[0], list):  # stored as (N, 1)
        arrays["Fov"] = _numeric(fov, (None, 1), path, "Fov")[:, 0]
    else:
        arrays["Fov"] = _numeric(fov, (None,), path, "Fov")
    _check_camera_arrays(arrays, path)
    try:
        return CameraTrack.from_frame(arrays["camera_eye"], arrays["camera_x"], arrays["camera_y"],
                                      arrays["camera_z"], arrays["Fov"], fps=DCM_FPS, name=Path(path).stem)
    except ValueError as e:
        raise InputError(path, str(e), "store camera_x, camera_y, camera_z as the camera's unit axes") from None


def _check_camera_arrays(arrays: dict[str, np.ndarray], path) -> int:
    """The common frame count N of a camera file's per-frame arrays (N >= 1, fov in (0, 180) degrees)."""
    lengths = {k: v.shape[0] for k, v in arrays.items()}
    N = next(iter(lengths.values()))
    if N == 0:
        raise InputError(path, "the camera has no frames", "check the file")
    if any(n != N for n in lengths.values()):
        raise InputError(path, f"per-frame arrays disagree in length: {lengths}", "the file is damaged")
    if (arrays["Fov"] <= 0).any() or (arrays["Fov"] >= 180).any():
        raise InputError(path, "'Fov' has values outside (0, 180) degrees", "check the file")
    return N


def write_camera_json(track: CameraTrack, path: str | os.PathLike) -> Path:
    """Write ``track`` as a DCM CameraCentric file (with eye and axes computed), atomically."""
    eye, right, up, forward = track.frame()
    return _write_json({
        "FrameTime": track.num_frames,
        "Distance": track.distance.tolist(),
        "Position": track.interest.tolist(),
        "Rotation": track.rotation.tolist(),
        "Fov": track.fov.tolist(),
        "camera_eye": eye.tolist(),
        "camera_z": forward.tolist(),
        "camera_y": up.tolist(),
        "camera_x": right.tolist(),
    }, path)


# --------------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------------
_PIECE_RE = re.compile(r"^(\d+)(?:_(\d+))?$")
_AUDIO_RE = re.compile(r"^a(\d+(?:_\d+)?)_([A-Z])$")
_CAMERA_RE = re.compile(r"^c(\d+(?:_\d+)?)$")
_MOTION_RE = re.compile(r"^m(\d+(?:_\d+)?)_gt$")
_KEY_RE = re.compile(r"^([A-Z])_(\d+(?:_\d+)?)$")


@dataclass(frozen=True)
class DCMPiece:
    """One DCM sequence: song ``song``, piece ``piece`` (``None`` for a song that was not cut)."""

    song: int
    piece: int | None
    genre: str | None
    """Genre letter C, J, K or E (from the audio name), ``None`` when no audio file names it."""
    split: str
    """``train``, ``val`` or ``test``: the folder it was found in."""

    @property
    def id(self) -> str:
        """The file id: ``66_6`` or ``28``."""
        return f"{self.song}" if self.piece is None else f"{self.song}_{self.piece}"

    @property
    def key(self) -> str:
        """The split-json key: ``C_66_6`` or ``K_28``."""
        return f"{self.genre or '?'}_{self.id}"

    @property
    def genre_name(self) -> str | None:
        return GENRES.get(self.genre) if self.genre else None


def parse_piece_id(piece_id: str) -> tuple[int, int | None]:
    """``"66_6"`` -> (66, 6); ``"28"`` -> (28, None)."""
    m = _PIECE_RE.match(piece_id)
    if not m:
        raise ValueError(f"{piece_id!r} is not a DCM piece id (song[_piece], e.g. 66_6 or 28)")
    return int(m.group(1)), None if m.group(2) is None else int(m.group(2))


class DCMReader:
    """The DCM dataset, read from its preprocessed layout (see the module docstring).

    ``root`` is the ``DCM_data`` folder (holding ``amc_data_split_by_categories/`` and ``split/``) or
    the ``amc_data_split_by_categories`` folder itself. Pieces are keyed by their file id
    (``"66_6"``); a piece is listed when its camera and motion files are both present.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(self.root, "DCM folder not found", missing_corpus_fix(self.root, HOW_TO_GET_DCM))
        if (self.root / "amc_data_split_by_categories").is_dir():
            self.data_root = self.root / "amc_data_split_by_categories"
            self.split_dir = self.root / "split"
        elif any((self.root / f).is_dir() for f in SPLIT_FOLDERS.values()):
            self.data_root = self.root
            self.split_dir = self.root.parent / "split"
        else:
            raise InputError(self.root, "no amc_data_split_by_categories/ (nor Train/Validation/Test/) "
                                        "inside: not a DCM folder", HOW_TO_GET_DCM)
        self._index: dict[str, dict[str, DCMPiece]] = {}
        self._incomplete: dict[str, list[str]] = {}
        self._audio: dict[str, Path] = {}

    # -- listing ---------------------------------------------------------------------------------
    @staticmethod
    def _split_name(split: str) -> str:
        try:
            return _SPLIT_ALIASES[split.lower()]
        except (KeyError, AttributeError):
            raise ValueError(f"unknown DCM split {split!r}; use train, val, test or all") from None

    def _scan(self, split: str) -> dict[str, DCMPiece]:
        if split in self._index:
            return self._index[split]
        folder = self.data_root / SPLIT_FOLDERS[split]
        for sub in ("CameraCentric", "Simplified_MotionGlobalTransform"):
            if not (folder / sub).is_dir():
                raise InputError(folder / sub, "DCM folder not found", HOW_TO_GET_DCM)
        cameras = {m.group(1) for p in (folder / "CameraCentric").glob("c*.json")
                   if (m := _CAMERA_RE.match(p.stem))}
        motions = {m.group(1) for p in (folder / "Simplified_MotionGlobalTransform").glob("m*_gt.json")
                   if (m := _MOTION_RE.match(p.stem))}
        genres: dict[str, str] = {}
        if (folder / "Audio").is_dir():
            for p in sorted((folder / "Audio").glob("a*.wav")):
                if m := _AUDIO_RE.match(p.stem):
                    genres[m.group(1)] = m.group(2)
                    self._audio[m.group(1)] = p
        pieces = {}
        for pid in cameras & motions:
            song, piece = parse_piece_id(pid)
            pieces[pid] = DCMPiece(song, piece, genres.get(pid), split)
        # by song, then piece (an uncut song has no piece number and sorts first)
        ordered = sorted(pieces.values(), key=lambda p: (p.song, -1 if p.piece is None else p.piece))
        self._index[split] = {p.id: p for p in ordered}
        self._incomplete[split] = sorted(cameras ^ motions)
        return self._index[split]

    def _splits(self, split: str) -> list[str]:
        split = self._split_name(split)
        if split != "all":
            return [split]
        present = [s for s, f in SPLIT_FOLDERS.items() if (self.data_root / f).is_dir()]
        if not present:
            raise InputError(self.data_root, "no Train/, Validation/ or Test/ folder", HOW_TO_GET_DCM)
        return present

    def sequences(self, split: str = "all") -> list[str]:
        """Piece ids of ``split`` (train, val, test or all), ordered by song then piece."""
        return [pid for s in self._splits(split) for pid in self._scan(s)]

    def pieces(self, split: str = "all") -> list[DCMPiece]:
        return [p for s in self._splits(split) for p in self._scan(s).values()]

    def incomplete(self, split: str = "all") -> list[str]:
        """Piece ids with a camera file but no motion file, or the reverse (not listed as sequences)."""
        out = []
        for s in self._splits(split):
            self._scan(s)
            out += self._incomplete[s]
        return out

    def piece(self, piece_id: str) -> DCMPiece:
        for s in self._splits("all"):
            if piece_id in self._scan(s):
                return self._scan(s)[piece_id]
        raise InputError(self.data_root, f"no DCM piece {piece_id!r} (camera and motion files)",
                         "list the pieces with DCMReader.sequences()")

    # -- files -----------------------------------------------------------------------------------
    def camera_path(self, piece_id: str) -> Path:
        p = self.piece(piece_id)
        return self.data_root / SPLIT_FOLDERS[p.split] / "CameraCentric" / f"c{p.id}.json"

    def motion_path(self, piece_id: str) -> Path:
        p = self.piece(piece_id)
        return self.data_root / SPLIT_FOLDERS[p.split] / "Simplified_MotionGlobalTransform" / f"m{p.id}_gt.json"

    def audio_path(self, piece_id: str) -> Path:
        """``Audio/a{id}_{G}.wav`` of the piece; :class:`InputError` when absent."""
        p = self.piece(piece_id)
        path = self._audio.get(p.id)
        if path is None or not path.is_file():
            raise InputError(self.data_root / SPLIT_FOLDERS[p.split] / "Audio",
                             f"no audio a{p.id}_<genre>.wav for piece {p.id}", HOW_TO_GET_DCM)
        return path

    music_path = audio_path

    def load_motion(self, piece_id: str) -> Motion:
        """The piece's dance as a positions-only ``mmd60`` :class:`Motion` in metres, 30 fps."""
        motion = load_dcm_motion(self.motion_path(piece_id))
        audio = self._audio.get(self.piece(piece_id).id)
        motion.music = str(audio) if audio is not None else ""
        return motion

    def load_camera(self, piece_id: str) -> CameraTrack:
        return read_camera_json(self.camera_path(piece_id))

    def load(self, piece_id: str) -> tuple[Motion, CameraTrack]:
        """Motion and camera of a piece, cropped to the shorter (DCM aligns them on load the same way)."""
        motion, camera = self.load_motion(piece_id), self.load_camera(piece_id)
        n = min(motion.num_frames, camera.num_frames)
        return motion.slice(0, n), camera.slice(0, n)

    # -- split metadata (split/*.json), all optional ----------------------------------------------
    def split_keys(self, split: str) -> list[str] | None:
        """The keys (``C_66_6``) listed in ``split/<split>.json``, or ``None`` when the file is absent."""
        split = self._split_name(split)
        if split == "all":
            raise ValueError("split_keys takes train, val or test")
        path = self.split_dir / SPLIT_JSON[split]
        if not path.is_file():
            return None
        keys = _read_json(path)
        if not isinstance(keys, list) or not all(isinstance(k, str) and _KEY_RE.match(k) for k in keys):
            raise InputError(path, "expected a JSON list of keys like \"C_66_6\" or \"K_28\"",
                             "re-download split/ from the DanceCamera3D repository")
        return keys

    def music_categories(self) -> dict[str, list[int]] | None:
        """``split/music_categories.json``: genre name -> song ids, or ``None`` when absent."""
        path = self.split_dir / "music_categories.json"
        if not path.is_file():
            return None
        data = _read_json(path)
        if not (isinstance(data, dict) and all(isinstance(v, list) and all(isinstance(i, int) for i in v)
                                               for v in data.values())):
            raise InputError(path, "expected {genre: [song ids]}", "re-download split/")
        return {str(k): list(v) for k, v in data.items()}

    def long2short(self) -> dict[int, list[tuple[int, int]]] | None:
        """``split/long2short.json``: song -> [(start, end)] inclusive frame ranges; ``None`` if absent."""
        path = self.split_dir / "long2short.json"
        if not path.is_file():
            return None
        data = _read_json(path)
        try:
            out = {int(k): [(int(a), int(b)) for a, b in v] for k, v in data.items()}
        except (AttributeError, TypeError, ValueError):
            raise InputError(path, "expected {song: [[start, end], ...]}", "re-download split/") from None
        return out
