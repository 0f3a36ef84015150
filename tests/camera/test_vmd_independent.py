"""camera.vmd against a second reader written only from the spec (tests/camera/vmd_spec_reader.py,
shared/reference/dancecamera3d.md section 2): both read pasdeux's files key for key, pasdeux reads a
file packed by hand from the spec, and a camera file's size is the spec's 74 + 61 N bytes."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from camera.vmd import CAMERA_MODEL_NAME, BoneKey, CameraKey, Curve, Vmd, read_vmd, write_vmd
from tests.camera import vmd_spec_reader as spec

TAU = 2 * np.pi


def curves(seed: int, n: int) -> tuple[Curve, ...]:
    """``n`` distinct, non-default curves, control points anywhere in 0..127."""
    v = np.random.default_rng(seed).integers(0, 128, size=(n, 4))
    return tuple(Curve(*map(int, row)) for row in v)


def camera_motion() -> Vmd:
    """Keys with a cut (frames 0/1 and 45/46), negative and positive distances, rotations past 2 pi
    both ways, view angles at both ends of 1..180, perspective on and off, six distinct curves each."""
    keys = [
        CameraKey(0, -45.0, (0.0, 10.0, 0.0), (0.1, 0.0, 0.0), 30, True, curves(0, 6)),
        CameraKey(1, -12.5, (1.25, 8.5, -3.75), (-0.35, TAU + 0.5, 0.05), 1, False, curves(1, 6)),
        CameraKey(45, -80.0, (-2.0, 15.0, 4.0), (0.2, 2 * TAU + 1.0, -7.5), 180, True, curves(2, 6)),
        CameraKey(46, 3.5, (-2.0, 15.0, 4.5), (0.0, -1.5 * TAU, 0.0), 45, False, curves(3, 6)),
        CameraKey(300, -45.0, (0.0, 12.0, -0.5), (-0.05, 3 * TAU, 0.25), 90, True, curves(4, 6)),
    ]
    return Vmd(model_name=CAMERA_MODEL_NAME, cameras=keys)


BONE_NAME_15 = "右腕捩り回転用1"  # exactly 15 bytes in Shift-JIS: no NUL terminator in the file


def quat(x_deg: float, y_deg: float, z_deg: float, flip: bool = False) -> tuple[float, ...]:
    """A unit quaternion (x, y, z, w) for extrinsic x-y-z Euler degrees; ``flip`` gives the other sign."""
    q = Rotation.from_euler("xyz", [x_deg, y_deg, z_deg], degrees=True).as_quat()
    return tuple(float(v) for v in (-q if flip else q))


def bone_motion() -> Vmd:
    bones = [
        BoneKey("センター", 0, (0.0, 1.5, -0.25), quat(0, 0, 0), curves(10, 4)),
        BoneKey("左腕", 0, (0.0, 0.0, 0.0), quat(10, -20, 35), curves(11, 4)),
        BoneKey("左ひじ", 12, (0.0, 0.0, 0.0), quat(-5, 60, -120), curves(12, 4)),
        BoneKey("左足ＩＫ", 12, (1.0, -0.5, 2.25), quat(170, 10, -30, flip=True), curves(13, 4)),  # w < 0
        BoneKey("センター", 30, (0.5, 0.0, -1.0), quat(0, 179, 0), curves(14, 4)),
        BoneKey(BONE_NAME_15, 31, (0.0, 0.0, 0.0), quat(33, 0, -72), curves(15, 4)),
    ]
    return Vmd(model_name="初音ミク", bones=bones)


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def as_tuple(c: Curve) -> tuple[int, int, int, int]:
    return (c.x1, c.y1, c.x2, c.y2)


# --------------------------------------------------------------------------------------------------
# (a) pasdeux writes, the spec reader reads
# --------------------------------------------------------------------------------------------------
def test_the_spec_reader_reads_a_pasdeux_camera_file_key_for_key(tmp_path):
    vmd = camera_motion()
    got = spec.parse_file(write_vmd(vmd, tmp_path / "camera.vmd"))
    assert (got.version, got.model_name) == (2, CAMERA_MODEL_NAME)
    assert got.bones == [] and got.morphs == [] and got.lights == [] and got.shadows == [] and got.ik == []
    assert len(got.cameras) == len(vmd.cameras)
    for want, key in zip(vmd.cameras, got.cameras):
        assert key.frame == want.frame
        assert f32(key.distance) == f32(want.distance)  # bit for bit: f32 stored, f32 read
        np.testing.assert_array_equal(f32(key.interest), f32(want.interest))
        np.testing.assert_array_equal(f32(key.rotation), f32(want.rotation))  # unbounded radians, never wrapped
        assert key.view_angle == want.view_angle  # a u32 of whole degrees, not f32 bits
        assert key.perspective_byte == (0 if want.perspective else 1)  # 0 = perspective on
        assert [spec.camera_curve(key.interpolation, g) for g in range(6)] == [as_tuple(c) for c in want.curves]


def test_the_spec_reader_reads_a_pasdeux_bone_file_key_for_key(tmp_path):
    vmd = bone_motion()
    got = spec.parse_file(write_vmd(vmd, tmp_path / "dance.vmd"))
    assert (got.version, got.model_name) == (2, "初音ミク")
    assert got.cameras == [] and len(got.bones) == len(vmd.bones)
    for want, key in zip(vmd.bones, got.bones):
        assert (key.name, key.frame) == (want.name, want.frame)
        np.testing.assert_array_equal(f32(key.position), f32(want.position))
        np.testing.assert_array_equal(f32(key.quaternion), f32(want.rotation))  # stored as x, y, z, w
        want_curves = [as_tuple(c) for c in want.curves]
        assert [spec.bone_curve(key.interpolation, ch) for ch in range(4)] == want_curves  # each from its own row
        # every row that still holds a channel's curve holds the same one (a writer emits all 4 rows)
        for ch in range(4):
            assert {spec.bone_curve(key.interpolation, ch, row) for row in range(ch + 1)} == {want_curves[ch]}
        for row in range(1, 4):  # the bytes shifted in at the end of each row are zero
            assert key.interpolation[16 * row + 16 - row:16 * row + 16] == bytes(row)


# --------------------------------------------------------------------------------------------------
# (b) a file packed from the spec, read by pasdeux
# --------------------------------------------------------------------------------------------------
def _name(s: str, size: int) -> bytes:
    raw = s.encode("cp932")
    assert len(raw) <= size
    return raw + bytes(size - len(raw))


def _bone_interp(cs: list[tuple[int, int, int, int]], flags: bytes = b"") -> bytes:
    """Row 0 [x1 of X Y Z R | y1 | x2 | y2], rows 1..3 row 0 shifted left, zero-filled; ``flags``
    overwrite row-0 bytes 2..3 as MMD does."""
    row0 = [c[0] for c in cs] + [c[1] for c in cs] + [c[2] for c in cs] + [c[3] for c in cs]
    rows = [row0[r:] + [0] * r for r in range(4)]
    if flags:
        rows[0][2:4] = list(flags)
    return bytes(b for r in rows for b in r)


def _spec_file(cameras, bones) -> bytes:
    out = [b"Vocaloid Motion Data 0002" + bytes(5), _name("初音ミク", 20), struct.pack("<I", len(bones))]
    for name, frame, pos, q, cs, flags in bones:
        out.append(_name(name, 15) + struct.pack("<I3f4f", frame, *pos, *q) + _bone_interp(cs, flags))
    out.append(struct.pack("<I", 0))  # morphs
    out.append(struct.pack("<I", len(cameras)))
    for frame, d, p, r, cs, angle, ortho in cameras:
        interp = bytes(b for (x1, y1, x2, y2) in cs for b in (x1, x2, y1, y2))
        out.append(struct.pack("<If3f3f", frame, d, *p, *r) + interp + struct.pack("<IB", angle, ortho))
    out.append(struct.pack("<III", 0, 0, 0))  # lights, shadows, IK
    return b"".join(out)


def test_pasdeux_reads_a_file_packed_from_the_spec_key_for_key(tmp_path):
    rng = np.random.default_rng(7)
    cam_curves = [[tuple(int(v) for v in row) for row in rng.integers(0, 128, (6, 4))] for _ in range(3)]
    bone_curves = [[tuple(int(v) for v in row) for row in rng.integers(0, 128, (4, 4))] for _ in range(3)]
    cameras = [(0, -30.0, (1.0, 2.0, 3.0), (0.25, -TAU - 0.5, 0.0), cam_curves[0], 27, 0),
               (1, -5.0, (1.0, 2.5, 3.0), (0.0, 5.0, -0.125), cam_curves[1], 120, 1),
               (60, 10.0, (-4.0, 0.0, 8.0), (-0.5, 0.0, 9.0), cam_curves[2], 2, 0)]
    bones = [("左腕", 0, (0.0, 0.0, 0.0), quat(10, 20, 30), bone_curves[0], b""),
             ("左足ＩＫ", 4, (1.0, 2.0, -3.0), quat(-40, 5, 90, flip=True), bone_curves[1], b"\x63\x0f"),  # flags
             (BONE_NAME_15, 9, (0.5, 0.5, 0.5), quat(0, -89, 0), bone_curves[2], b"\0\0")]
    path = tmp_path / "spec.vmd"
    path.write_bytes(_spec_file(cameras, bones))
    got = read_vmd(path)
    assert got.model_name == "初音ミク" and got.morphs == [] and got.lights == [] and got.ik == []
    assert len(got.cameras) == 3 and len(got.bones) == 3
    for (frame, d, p, r, cs, angle, ortho), key in zip(cameras, got.cameras):
        assert (key.frame, key.view_angle, key.perspective) == (frame, angle, ortho == 0)
        np.testing.assert_array_equal(f32([key.distance, *key.interest, *key.rotation]), f32([d, *p, *r]))
        assert [as_tuple(c) for c in key.curves] == cs
    for (name, frame, pos, q, cs, _), key in zip(bones, got.bones):
        assert (key.name, key.frame) == (name, frame)
        np.testing.assert_array_equal(f32(key.position), f32(pos))
        np.testing.assert_array_equal(f32(key.rotation), f32(q))
        assert [as_tuple(c) for c in key.curves] == cs  # MMD's flags in row 0 change no curve


# --------------------------------------------------------------------------------------------------
# (c) byte size
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 5, 240])
def test_a_camera_file_is_74_plus_61_n_bytes(tmp_path, n):
    keys = [CameraKey(i, -45.0 + i, (0.0, 10.0, float(i)), (0.0, 0.1 * i, 0.0), 30 + i % 60, i % 2 == 0)
            for i in range(n)]
    path = write_vmd(Vmd(model_name=CAMERA_MODEL_NAME, cameras=keys), tmp_path / "camera.vmd")
    assert path.stat().st_size == 74 + 61 * n  # 30 + 20 header, six u32 counts, 61 B a key
    got = spec.parse_file(path)
    assert got.counts_present == 6 and len(got.cameras) == n
    assert [k.frame for k in got.cameras] == list(range(n))


def test_a_bone_file_is_74_plus_111_b_bytes(tmp_path):
    vmd = bone_motion()
    path = write_vmd(vmd, tmp_path / "dance.vmd")
    assert path.stat().st_size == 74 + 111 * len(vmd.bones)
    assert spec.parse_file(path).counts_present == 6
