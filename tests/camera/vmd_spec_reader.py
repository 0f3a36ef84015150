"""A second, minimal VMD reader for the tests, written only from the format notes in
shared/reference/dancecamera3d.md section 2 (no code shared with camera/vmd.py).

It keeps what a file holds as raw as it can: names as decoded Shift-JIS, floats as stored, the
interpolation bytes as bytes, and the perspective byte as the byte. It is strict where the codec's
tests want to see the layout: it records which section counts were present and refuses trailing
bytes. Curve helpers give each channel's Bezier control points as ``(x1, y1, x2, y2)``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

V2 = b"Vocaloid Motion Data 0002"
V1 = b"Vocaloid Motion Data file"


@dataclass
class SpecBone:
    name: str
    frame: int
    position: tuple  # x, y, z
    quaternion: tuple  # x, y, z, w
    interpolation: bytes  # 64 bytes, 4 rows of 16


@dataclass
class SpecCamera:
    frame: int
    distance: float
    interest: tuple  # x, y, z
    rotation: tuple  # x, y, z radians
    interpolation: bytes  # 24 bytes, 6 groups (x1, x2, y1, y2)
    view_angle: int  # u32 degrees
    perspective_byte: int  # 0 = perspective on


@dataclass
class SpecFile:
    version: int
    model_name: str
    bones: list = field(default_factory=list)
    morphs: list = field(default_factory=list)  # (name, frame, weight)
    cameras: list = field(default_factory=list)
    lights: list = field(default_factory=list)  # (frame, (r, g, b), (x, y, z))
    shadows: list = field(default_factory=list)  # (frame, mode, distance)
    ik: list = field(default_factory=list)  # (frame, show, [(name, enabled)])
    counts_present: int = 0  # how many of the six section counts the file has


def sjis(raw: bytes) -> str:
    """A NUL-terminated, NUL-padded Shift-JIS (cp932) field."""
    end = raw.find(b"\0")
    return (raw if end < 0 else raw[:end]).decode("cp932")


def camera_curve(interp: bytes, group: int) -> tuple:
    """Group ``group`` of a camera key (0..5: interest x, y, z, rotation, distance, view angle), stored
    as (x1, x2, y1, y2), returned as (x1, y1, x2, y2)."""
    x1, x2, y1, y2 = interp[4 * group:4 * group + 4]
    return (x1, y1, x2, y2)


def bone_curve(interp: bytes, channel: int, row: int | None = None) -> tuple:
    """Channel ``channel`` of a bone key (0..3: x, y, z, rotation) as (x1, y1, x2, y2). Row 0 holds
    channel c at bytes (c, c+4, c+8, c+12); row r repeats row 0 shifted left by r, so the same curve
    sits at 16 r + (c - r, ...). ``row`` defaults to the channel's own row, as the reference reader
    takes it (MMD reuses row-0 bytes 2..3 as flags)."""
    r = channel if row is None else row
    if not 0 <= r <= channel <= 3:
        raise ValueError(f"channel {channel}'s x1 is shifted out of row {r}")
    base = 16 * r + channel - r
    return tuple(interp[base + 4 * i] for i in range(4))


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.remaining() < size:
            raise ValueError(f"truncated at offset {self.pos}: need {size} bytes, have {self.remaining()}")
        out = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return out


def parse(data: bytes) -> SpecFile:
    """Parse a whole VMD file. Sections after the bones may be missing at the end of the file."""
    c = _Cursor(data)
    (sig,) = c.read("<30s")
    if sig.startswith(V2):
        version, name_len = 2, 20
    elif sig.startswith(V1):
        version, name_len = 1, 10
    else:
        raise ValueError(f"not a VMD signature: {sig!r}")
    (name,) = c.read(f"<{name_len}s")
    out = SpecFile(version=version, model_name=sjis(name))

    def count() -> int | None:
        if c.remaining() == 0:
            return None
        out.counts_present += 1
        return c.read("<I")[0]

    n = count()
    for _ in range(n or 0):
        raw = c.read("<15sI3f4f64s")
        out.bones.append(SpecBone(sjis(raw[0]), raw[1], raw[2:5], raw[5:9], raw[9]))
    for _ in range(count() or 0):
        raw = c.read("<15sIf")
        out.morphs.append((sjis(raw[0]), raw[1], raw[2]))
    for _ in range(count() or 0):
        raw = c.read("<I7f24sIB")
        out.cameras.append(SpecCamera(raw[0], raw[1], raw[2:5], raw[5:8], raw[8], raw[9], raw[10]))
    for _ in range(count() or 0):
        raw = c.read("<I6f")
        out.lights.append((raw[0], raw[1:4], raw[4:7]))
    for _ in range(count() or 0):
        out.shadows.append(c.read("<IBf"))
    for _ in range(count() or 0):
        frame, show, m = c.read("<IBI")
        entries = []
        for _ in range(m):
            ik_name, on = c.read("<20sB")
            entries.append((sjis(ik_name), on))
        out.ik.append((frame, show, entries))
    if c.remaining():
        raise ValueError(f"{c.remaining()} trailing bytes after the IK section")
    return out


def parse_file(path) -> SpecFile:
    with open(path, "rb") as f:
        return parse(f.read())
