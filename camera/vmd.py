"""MikuMikuDance VMD motion files: a struct-based writer and reader, to the format MMD itself writes.

Layout (little-endian, packed; names Shift-JIS (cp932), NUL-terminated and NUL-padded)::

    header   30 B  "Vocaloid Motion Data 0002"          model name 20 B (cameras: "カメラ・照明")
    bones    u32 count, then 111 B each: name[15], u32 frame, f32 position xyz, f32 quaternion xyzw, u8 interp[64]
    morphs   u32 count, then  23 B each: name[15], u32 frame, f32 weight
    cameras  u32 count, then  61 B each: u32 frame, f32 distance, f32 interest xyz, f32 rotation xyz (rad),
                                          u8 interp[24], u32 view angle (integer degrees), u8 perspective off
    lights   u32 count, then  28 B each: u32 frame, f32 rgb, f32 direction xyz
    shadows  u32 count, then   9 B each: u32 frame, u8 mode, f32 distance
    IK       u32 count, then each: u32 frame, u8 show, u32 n, n x (name[20], u8 enabled)

Every section count is written, so a file is ``30 + 20 + 6 x 4`` bytes plus its keys (a camera-only
file: ``74 + 61 N``, as MMD's own camera exports). DanceCamera3D's writer packs the view angle as a
float (MMD reads 30 degrees as 1,106,247,680), names the model "0" and stops after the light count;
this one writes the integer MMD reads.

Interpolation: each channel's segment from a key to the next follows a cubic Bezier from (0, 0) to
(1, 1) with control points ``(x1, y1)``, ``(x2, y2)`` in 0..127 (:class:`Curve`; MMD's near-linear
default is (20, 20) and (107, 107)). A camera key holds 6 curves (interest x, y, z, rotation, distance,
view angle) as ``(x1, x2, y1, y2)`` groups of 4 bytes; a bone key holds 4 curves (x, y, z, rotation)
in 4 rows of 16 bytes, row 0 ``[x1 of X Y Z R | y1 ... | x2 ... | y2 ...]`` and rows 1..3 the same
shifted left by 1..3 bytes (MMD reuses bytes of row 0 as flags, so the reader takes channel ``k``'s
curve from row ``k``). Which key's curve drives a segment, and that keys one frame apart are a cut,
is the keyframe fitter's business (camera/keyframes), not the codec's.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.camera import CameraTrack
from data.errors import InputError
from data.io import atomic_output

SIGNATURE = b"Vocaloid Motion Data 0002"
SIGNATURE_V1 = b"Vocaloid Motion Data file"
CAMERA_MODEL_NAME = "カメラ・照明"
"""The model name MMD writes into camera and light motion files."""
ENCODING = "cp932"
BONE_NAME_BYTES, MORPH_NAME_BYTES, IK_NAME_BYTES = 15, 15, 20
BONE_KEY_BYTES, MORPH_KEY_BYTES, CAMERA_KEY_BYTES, LIGHT_KEY_BYTES, SHADOW_KEY_BYTES = 111, 23, 61, 28, 9


@dataclass(frozen=True)
class Curve:
    """One channel's Bezier interpolation: control points ``(x1, y1)`` and ``(x2, y2)`` in 0..127."""

    x1: int = 20
    y1: int = 20
    x2: int = 107
    y2: int = 107

    def __post_init__(self) -> None:
        for name in ("x1", "y1", "x2", "y2"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and 0 <= int(v) <= 127):
                raise ValueError(f"Curve.{name} must be an integer in 0..127, got {v!r}")

    def weight(self, u: np.ndarray) -> np.ndarray:
        """The interpolation weight ``y`` at normalised times ``u`` in [0, 1] (MMD solves ``x(t) = u`` for
        the curve parameter ``t``; here by bisection to 1e-7, vectorised)."""
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        x1, y1, x2, y2 = (v / 127.0 for v in (self.x1, self.y1, self.x2, self.y2))
        bez = lambda t, a, b: 3 * t * (1 - t) ** 2 * a + 3 * t ** 2 * (1 - t) * b + t ** 3  # noqa: E731
        lo, hi = np.zeros_like(u), np.ones_like(u)
        for _ in range(40):  # 2^-40: far below a frame
            mid = 0.5 * (lo + hi)
            below = bez(mid, x1, x2) < u
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return bez(0.5 * (lo + hi), y1, y2)


LINEAR = Curve(20, 20, 107, 107)
"""MMD's default curve (near-linear)."""
CAMERA_CURVES = ("interest_x", "interest_y", "interest_z", "rotation", "distance", "view_angle")
BONE_CURVES = ("x", "y", "z", "rotation")


@dataclass
class BoneKey:
    """One bone key: position offset (MMD units) and rotation quaternion ``(x, y, z, w)``, MMD's
    left-handed frame."""

    name: str
    frame: int
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    curves: tuple[Curve, Curve, Curve, Curve] = (LINEAR, LINEAR, LINEAR, LINEAR)
    """Interpolation of x, y, z and rotation towards the next key."""


@dataclass
class CameraKey:
    """One camera key, raw MMD values: distance (negative in front of the interest point), interest
    point, Euler rotation (radians, unbounded: a difference of 2 pi is a full turn), integer view
    angle in degrees."""

    frame: int
    distance: float
    interest: tuple[float, float, float]
    rotation: tuple[float, float, float]
    view_angle: int = 30
    perspective: bool = True
    curves: tuple[Curve, ...] = (LINEAR,) * 6
    """Interpolation of interest x, y, z, rotation, distance and view angle towards the next key."""


@dataclass
class MorphKey:
    name: str
    frame: int
    weight: float


@dataclass
class LightKey:
    frame: int
    color: tuple[float, float, float]
    direction: tuple[float, float, float]


@dataclass
class ShadowKey:
    frame: int
    mode: int
    distance: float


@dataclass
class IKKey:
    frame: int
    show: bool
    enabled: dict[str, bool] = field(default_factory=dict)


@dataclass
class Vmd:
    """A whole VMD file."""

    model_name: str = ""
    bones: list[BoneKey] = field(default_factory=list)
    morphs: list[MorphKey] = field(default_factory=list)
    cameras: list[CameraKey] = field(default_factory=list)
    lights: list[LightKey] = field(default_factory=list)
    shadows: list[ShadowKey] = field(default_factory=list)
    ik: list[IKKey] = field(default_factory=list)

    def nbytes(self) -> int:
        """The file's size in bytes, from the layout."""
        ik = sum(9 + len(k.enabled) * (IK_NAME_BYTES + 1) for k in self.ik)
        return (30 + 20 + 6 * 4 + BONE_KEY_BYTES * len(self.bones) + MORPH_KEY_BYTES * len(self.morphs)
                + CAMERA_KEY_BYTES * len(self.cameras) + LIGHT_KEY_BYTES * len(self.lights)
                + SHADOW_KEY_BYTES * len(self.shadows) + ik)


# --------------------------------------------------------------------------------------------------
# Bytes
# --------------------------------------------------------------------------------------------------
def encode_name(name: str, size: int) -> bytes:
    """``name`` in Shift-JIS, NUL-padded to ``size`` bytes; an error when it does not fit (a name cut
    inside a character would not match the model's bone)."""
    try:
        raw = name.encode(ENCODING)
    except UnicodeEncodeError:
        raise ValueError(f"name {name!r} has characters Shift-JIS cannot encode") from None
    if len(raw) > size:
        raise ValueError(f"name {name!r} is {len(raw)} bytes in Shift-JIS; VMD allows {size}")
    return raw.ljust(size, b"\0")


def decode_name(raw: bytes) -> str:
    """A NUL-terminated Shift-JIS field (bytes after the NUL are padding, often garbage in MMD files)."""
    return raw.split(b"\0", 1)[0].decode(ENCODING, errors="replace")


def camera_interpolation(curves) -> bytes:
    """6 curves -> 24 bytes, ``(x1, x2, y1, y2)`` per curve."""
    if len(curves) != 6:
        raise ValueError(f"a camera key has 6 curves ({', '.join(CAMERA_CURVES)}), got {len(curves)}")
    return bytes(v for c in curves for v in (c.x1, c.x2, c.y1, c.y2))


def parse_camera_interpolation(raw: bytes) -> tuple[Curve, ...]:
    return tuple(Curve(raw[4 * i], raw[4 * i + 2], raw[4 * i + 1], raw[4 * i + 3]) for i in range(6))


def bone_interpolation(curves) -> bytes:
    """4 curves -> 64 bytes: row 0 ``[x1 | y1 | x2 | y2]`` of channels X Y Z R, rows 1..3 shifted left
    by 1..3 bytes (the shifted-in tail is zero, as MMD writes)."""
    if len(curves) != 4:
        raise ValueError(f"a bone key has 4 curves ({', '.join(BONE_CURVES)}), got {len(curves)}")
    row = [c.x1 for c in curves] + [c.y1 for c in curves] + [c.x2 for c in curves] + [c.y2 for c in curves]
    rows = [row[k:] + [0] * k for k in range(4)]
    return bytes(v for r in rows for v in r)


def parse_bone_interpolation(raw: bytes) -> tuple[Curve, ...]:
    """Channel ``k``'s curve from row ``k`` (bytes ``16 k + (0, 4, 8, 12)``): MMD reuses bytes 2 and 3 of
    row 0 as flags, so row 0 is only trusted for channel X. Writers that fill row 0 alone (pypmxvmd,
    after Nuthouse01's layout, which keeps Z's and R's x1 at bytes 17 and 18, where row 1 has them in
    MMD's layout too) leave a channel's bytes in its own row zero: such a channel is read from row 0,
    Z's and R's x1 from row 1 (an all-zero curve is linear either way)."""
    curves = []
    for k in range(4):
        own = [raw[16 * k + 4 * i] for i in range(4)]
        if k == 0 or any(own):
            curves.append(Curve(*own))
        else:
            x1 = raw[k] if k == 1 else raw[16 + k - 1]  # row 1 is row 0 shifted left by one byte
            curves.append(Curve(x1, raw[k + 4], raw[k + 8], raw[k + 12]))
    return tuple(curves)


_BONE = struct.Struct("<15sI3f4f64s")
_MORPH = struct.Struct("<15sIf")
_CAMERA = struct.Struct("<If3f3f24sIB")
_LIGHT = struct.Struct("<I3f3f")
_SHADOW = struct.Struct("<IBf")


def to_bytes(vmd: Vmd) -> bytes:
    """The file's bytes; every section count is written."""
    out = [SIGNATURE.ljust(30, b"\0"), encode_name(vmd.model_name, 20)]
    out.append(struct.pack("<I", len(vmd.bones)))
    for k in vmd.bones:
        out.append(_BONE.pack(encode_name(k.name, BONE_NAME_BYTES), _frame(k.frame), *k.position, *k.rotation,
                              bone_interpolation(k.curves)))
    out.append(struct.pack("<I", len(vmd.morphs)))
    for k in vmd.morphs:
        out.append(_MORPH.pack(encode_name(k.name, MORPH_NAME_BYTES), _frame(k.frame), k.weight))
    out.append(struct.pack("<I", len(vmd.cameras)))
    for k in vmd.cameras:
        angle = int(round(k.view_angle))
        if not 1 <= angle <= 180:
            raise ValueError(f"camera key at frame {k.frame}: view angle {k.view_angle!r} outside 1..180 degrees")
        out.append(_CAMERA.pack(_frame(k.frame), k.distance, *k.interest, *k.rotation, camera_interpolation(k.curves),
                                angle, 0 if k.perspective else 1))
    out.append(struct.pack("<I", len(vmd.lights)))
    for k in vmd.lights:
        out.append(_LIGHT.pack(_frame(k.frame), *k.color, *k.direction))
    out.append(struct.pack("<I", len(vmd.shadows)))
    for k in vmd.shadows:
        out.append(_SHADOW.pack(_frame(k.frame), k.mode, k.distance))
    out.append(struct.pack("<I", len(vmd.ik)))
    for k in vmd.ik:
        out.append(struct.pack("<IBI", _frame(k.frame), 1 if k.show else 0, len(k.enabled)))
        for name, on in k.enabled.items():
            out.append(encode_name(name, IK_NAME_BYTES) + bytes([1 if on else 0]))
    return b"".join(out)


def _frame(frame: int) -> int:
    f = int(frame)
    if f < 0 or f != frame:
        raise ValueError(f"frame numbers are non-negative integers, got {frame!r}")
    return f


class _Reader:
    def __init__(self, data: bytes, path) -> None:
        self.data, self.at, self.path = data, 0, path

    def left(self) -> int:
        return len(self.data) - self.at

    def take(self, n: int, what: str) -> bytes:
        if self.left() < n:
            raise InputError(self.path, f"truncated VMD file: {what} needs {n} bytes at offset {self.at}, "
                                        f"{self.left()} left", "re-export the file")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def unpack(self, fmt: struct.Struct, what: str) -> tuple:
        return fmt.unpack(self.take(fmt.size, what))

    def count(self, what: str, size: int) -> int | None:
        """A section's count, or None at the end of the file (later sections are optional)."""
        if self.left() == 0:
            return None
        (n,) = struct.unpack("<I", self.take(4, f"the {what} count"))
        if size and n * size > self.left():
            raise InputError(self.path, f"the VMD file says {n} {what} keys ({n * size} bytes), {self.left()} "
                                        "bytes are left", "the file is truncated or not a VMD file")
        return n


def from_bytes(data: bytes, path=None) -> Vmd:
    """Parse a VMD file's bytes (v2, or v1 with its 10-byte model name); sections after the bones may be
    missing at the end of the file, as readers of MMD's files allow."""
    r = _Reader(data, path)
    sig = r.take(30, "the signature")
    if sig.startswith(SIGNATURE):
        name_bytes = 20
    elif sig.startswith(SIGNATURE_V1):
        name_bytes = 10
    else:
        raise InputError(path, "not a VMD file (no 'Vocaloid Motion Data' signature)", "give a .vmd motion file")
    vmd = Vmd(model_name=decode_name(r.take(name_bytes, "the model name")))
    n = r.count("bone", BONE_KEY_BYTES) or 0
    for _ in range(n):
        name, frame, px, py, pz, qx, qy, qz, qw, interp = r.unpack(_BONE, "a bone key")
        vmd.bones.append(BoneKey(decode_name(name), frame, (px, py, pz), (qx, qy, qz, qw),
                                 parse_bone_interpolation(interp)))
    n = r.count("morph", MORPH_KEY_BYTES) or 0
    for _ in range(n):
        name, frame, weight = r.unpack(_MORPH, "a morph key")
        vmd.morphs.append(MorphKey(decode_name(name), frame, weight))
    n = r.count("camera", CAMERA_KEY_BYTES) or 0
    for _ in range(n):
        frame, d, ix, iy, iz, rx, ry, rz, interp, angle, ortho = r.unpack(_CAMERA, "a camera key")
        vmd.cameras.append(CameraKey(frame, d, (ix, iy, iz), (rx, ry, rz), angle, ortho == 0,
                                     parse_camera_interpolation(interp)))
    n = r.count("light", LIGHT_KEY_BYTES) or 0
    for _ in range(n):
        frame, cr, cg, cb, dx, dy, dz = r.unpack(_LIGHT, "a light key")
        vmd.lights.append(LightKey(frame, (cr, cg, cb), (dx, dy, dz)))
    n = r.count("self-shadow", SHADOW_KEY_BYTES) or 0
    for _ in range(n):
        frame, mode, dist = r.unpack(_SHADOW, "a self-shadow key")
        vmd.shadows.append(ShadowKey(frame, mode, dist))
    n = r.count("IK", 0) or 0
    for _ in range(n):
        frame, show, m = struct.unpack("<IBI", r.take(9, "an IK key"))
        enabled = {}
        for _ in range(m):
            raw = r.take(IK_NAME_BYTES + 1, "an IK entry")
            enabled[decode_name(raw[:IK_NAME_BYTES])] = raw[IK_NAME_BYTES] != 0
        vmd.ik.append(IKKey(frame, show != 0, enabled))
    return vmd


# --------------------------------------------------------------------------------------------------
# Camera tracks
# --------------------------------------------------------------------------------------------------
def track_to_vmd(track: CameraTrack, model_name: str = CAMERA_MODEL_NAME) -> Vmd:
    """A per-frame camera track as one VMD camera key per frame (linear curves; the view angle is an
    integer in VMD, so the fov is rounded to whole degrees). Sparse keys are the keyframe fitter's."""
    keys = [CameraKey(frame=i, distance=float(track.distance[i]), interest=tuple(map(float, track.interest[i])),
                      rotation=tuple(map(float, track.rotation[i])), view_angle=int(round(float(track.fov[i]))))
            for i in range(track.num_frames)]
    return Vmd(model_name=model_name, cameras=keys)


def vmd_to_track(vmd: Vmd, fps: float = 30.0, curve_from: str = "later", name: str = "") -> CameraTrack:
    """The camera at every frame from 0 to the last key, from a file's camera keys: each channel
    interpolated along its own curve between the keys around the frame, the frames before the first key
    holding it. ``curve_from``: whose curve drives a segment, the ``later`` key's (MMD's convention, as
    three.js reads it) or the ``earlier`` key's (saba's, and so DCM's preprocessing). Keys one frame
    apart (a cut) leave no frame in between, so a cut stays a cut."""
    if curve_from not in ("later", "earlier"):
        raise ValueError(f"curve_from must be 'later' or 'earlier', got {curve_from!r}")
    keys = sorted(vmd.cameras, key=lambda k: k.frame)
    if not keys:
        raise ValueError("the VMD file has no camera keys")
    frames = np.array([k.frame for k in keys])
    if len(np.unique(frames)) != len(frames):
        raise ValueError(f"the VMD file has two camera keys at frame {int(frames[np.argmax(np.diff(frames) == 0)])}")
    values = np.array([[k.distance, *k.interest, *k.rotation, k.view_angle] for k in keys], dtype=np.float64)  # (K, 8)
    # channel -> its curve index (interest x, y, z, rotation, distance, view angle)
    curve_of = [4, 0, 1, 2, 3, 3, 3, 5]
    T = int(frames[-1]) + 1
    out = np.repeat(values[:1], T, axis=0)
    for j in range(len(keys) - 1):
        f0, f1 = int(frames[j]), int(frames[j + 1])
        out[f0] = values[j]
        if f1 - f0 < 2:
            continue
        u = (np.arange(f0 + 1, f1) - f0) / (f1 - f0)
        curves = keys[j + 1 if curve_from == "later" else j].curves
        for c in range(8):
            w = curves[curve_of[c]].weight(u)
            out[f0 + 1:f1, c] = values[j, c] + (values[j + 1, c] - values[j, c]) * w
    out[int(frames[-1])] = values[-1]
    return CameraTrack(distance=out[:, 0], interest=out[:, 1:4], rotation=out[:, 4:7], fov=out[:, 7], fps=fps,
                       name=name)


def write_vmd(vmd: Vmd, path: str | os.PathLike) -> Path:
    """Write ``vmd`` to ``path`` atomically (nothing half-written on an error)."""
    data = to_bytes(vmd)  # every value checked before the file is touched
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def read_vmd(path: str | os.PathLike) -> Vmd:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found", "check the path")
    return from_bytes(p.read_bytes(), p)


__all__ = ["Vmd", "BoneKey", "CameraKey", "MorphKey", "LightKey", "ShadowKey", "IKKey", "Curve", "LINEAR",
           "CAMERA_MODEL_NAME", "read_vmd", "write_vmd", "to_bytes", "from_bytes", "camera_interpolation",
           "bone_interpolation", "parse_camera_interpolation", "parse_bone_interpolation", "track_to_vmd",
           "vmd_to_track"]
