"""camera.vmd against an independent VMD codec from PyPI, pypmxvmd (MIT; a Cython reader and a Python
writer descended from Nuthouse01's): each reads the other's files key for key.

pypmxvmd's objects differ from the file in ways the comparisons undo: camera rotations are degrees,
bone rotations are Euler degrees (extrinsic x-y-z: q = Rz Ry Rx), a bone key's curves are 16 values
(x1, y1, x2, y2 of X, Y, Z, R), a camera key's are the 24 file bytes, and ``perspective`` is the raw
file byte (the spec's 0 = perspective on reads as ``perspective=False``). Its writer fills only row
0 of a bone key's 64 interpolation bytes (plus Z's and R's x1 in row 1); camera.vmd reads a channel
whose own row is empty from row 0, so it gets Y, Z and R too (tested below).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from camera.vmd import CAMERA_MODEL_NAME, CameraKey, Vmd, read_vmd, write_vmd
from tests.camera import vmd_spec_reader as spec
from tests.camera.test_vmd_independent import BONE_NAME_15, TAU, as_tuple, bone_motion, camera_motion, curves, f32

pypmxvmd = pytest.importorskip("pypmxvmd")
from pypmxvmd.common.models.vmd import VmdBoneFrame, VmdCameraFrame, VmdMotion  # noqa: E402


def load(path):
    return pypmxvmd.load_vmd(path)


def save(motion, path):
    with contextlib.redirect_stdout(io.StringIO()):  # save_vmd prints its progress
        pypmxvmd.save_vmd(motion, path)
    return path


def euler_rotation(deg) -> Rotation:
    return Rotation.from_euler("xyz", deg, degrees=True)


def angle_between(a: Rotation, b: Rotation) -> float:
    return float((a.inv() * b).magnitude())


def bone_curves16(cs) -> list[int]:
    return [v for c in cs for v in as_tuple(c)]


def camera_bytes24(cs) -> list[int]:
    return [v for c in cs for v in (c.x1, c.x2, c.y1, c.y2)]  # the spec's order on disk


# --------------------------------------------------------------------------------------------------
# (a) pasdeux writes, pypmxvmd reads
# --------------------------------------------------------------------------------------------------
def test_pypmxvmd_reads_a_pasdeux_camera_file_key_for_key(tmp_path):
    vmd = camera_motion()
    got = load(write_vmd(vmd, tmp_path / "camera.vmd"))
    assert (got.header.version, got.header.model_name) == (2, CAMERA_MODEL_NAME)
    assert got.bone_frames == [] and got.morph_frames == [] and got.light_frames == [] and got.ik_frames == []
    assert len(got.camera_frames) == len(vmd.cameras)
    for want, key in zip(vmd.cameras, got.camera_frames):
        assert key.frame_number == want.frame
        assert f32(key.distance) == f32(want.distance)
        np.testing.assert_array_equal(f32(key.position), f32(want.interest))
        np.testing.assert_allclose(np.radians(key.rotation), f32(want.rotation), rtol=1e-12, atol=1e-15)  # > 2 pi kept
        assert key.fov == want.view_angle and isinstance(key.fov, int)
        assert int(key.perspective) == (0 if want.perspective else 1)  # its flag is the raw byte
        assert key.interpolation == camera_bytes24(want.curves)


def test_pypmxvmd_reads_a_pasdeux_bone_file_key_for_key(tmp_path):
    vmd = bone_motion()
    got = load(write_vmd(vmd, tmp_path / "dance.vmd"))
    assert (got.header.version, got.header.model_name) == (2, "初音ミク")
    assert got.camera_frames == [] and len(got.bone_frames) == len(vmd.bones)
    for want, key in zip(vmd.bones, got.bone_frames):
        assert (key.bone_name, key.frame_number) == (want.name, want.frame)
        np.testing.assert_array_equal(f32(key.position), f32(want.position))
        assert angle_between(euler_rotation(key.rotation), Rotation.from_quat(want.rotation)) < 1e-5
        assert key.interpolation == bone_curves16(want.curves)  # Z and R x1 from row 1, the rest row 0
        assert key.physics_disabled is False  # row 0 bytes 2..3 repeat Z's and R's x1: no physics-off flag


# --------------------------------------------------------------------------------------------------
# (b) pypmxvmd writes, pasdeux reads
# --------------------------------------------------------------------------------------------------
def pypmxvmd_motion() -> tuple[VmdMotion, list, list]:
    """A motion built with pypmxvmd's own objects: its bone keys with their Euler degrees and curve
    tuples, its camera keys with their curve tuples (so the comparisons need no pypmxvmd reading)."""
    m = VmdMotion()
    m.header.model_name = "初音ミク"
    bones = [("センター", 0, [0.0, 1.5, -0.25], [0.0, 0.0, 0.0], curves(20, 4), False),
             ("左腕", 3, [0.0, 0.0, 0.0], [10.0, -20.0, 35.0], curves(21, 4), False),
             ("左ひじ", 3, [0.0, 0.0, 0.0], [-5.0, 60.0, -120.0], curves(22, 4), False),
             ("左足ＩＫ", 8, [1.0, -0.5, 2.25], [170.0, 10.0, -30.0], curves(23, 4), True),  # physics off: flags
             (BONE_NAME_15, 9, [0.5, 0.0, -1.0], [33.0, 0.0, -72.0], curves(24, 4), False)]
    cams = [(0, -45.0, [0.0, 10.0, 0.0], [0.1, 0.0, 0.0], curves(30, 6), 30, 0),
            (1, -12.5, [1.25, 8.5, -3.75], [-0.35, TAU + 0.5, 0.05], curves(31, 6), 1, 1),
            (90, 3.5, [-2.0, 15.0, 4.0], [0.2, 2 * TAU + 1.0, -7.5], curves(32, 6), 180, 0)]
    m.bone_frames = [VmdBoneFrame(n, f, p, r, bone_curves16(cs), phys) for n, f, p, r, cs, phys in bones]
    m.camera_frames = [VmdCameraFrame(f, d, p, list(np.degrees(r)), camera_bytes24(cs), fov, bool(byte))
                       for f, d, p, r, cs, fov, byte in cams]
    return m, bones, cams


def test_pasdeux_reads_a_pypmxvmd_file_key_for_key(tmp_path):
    m, bones, cams = pypmxvmd_motion()
    path = save(m, tmp_path / "pypmxvmd.vmd")
    got = read_vmd(path)
    assert got.model_name == "初音ミク" and got.morphs == [] and got.lights == [] and got.ik == []
    assert len(got.cameras) == len(cams) and len(got.bones) == len(bones)
    for (f, d, p, r, cs, fov, byte), key in zip(cams, got.cameras):
        assert (key.frame, key.view_angle, key.perspective) == (f, fov, byte == 0)
        assert f32(key.distance) == f32(d)
        np.testing.assert_array_equal(f32(key.interest), f32(p))
        np.testing.assert_allclose(key.rotation, f32(r), rtol=1e-6)  # via degrees: unbounded, never wrapped
        assert key.curves == cs
    raw = spec.parse_file(path).bones
    for (name, f, pos, deg, cs, physics_off), key, spec_key in zip(bones, got.bones, raw):
        assert (key.name, key.frame) == (name, f)
        np.testing.assert_array_equal(f32(key.position), f32(pos))
        assert angle_between(Rotation.from_quat(key.rotation), euler_rotation(deg)) < 1e-5
        assert key.curves[0] == cs[0]  # X: row 0, the row pypmxvmd writes
        # pypmxvmd's bytes do carry every curve in row 0, Z's and R's x1 at row-1 bytes 1..2 (row-0
        # bytes 2..3 are its physics flags 99, 15 or a copy of them)
        interp = spec_key.interpolation
        assert [spec.bone_curve(interp, ch, row=0) for ch in (0, 1)] == [as_tuple(c) for c in cs[:2]]
        assert [spec.bone_curve(interp, ch, row=0)[1:] for ch in (2, 3)] == [as_tuple(c)[1:] for c in cs[2:]]
        assert interp[17:19] == bytes([cs[2].x1, cs[3].x1])
        assert interp[2:4] == (b"\x63\x0f" if physics_off else interp[17:19])


def test_pasdeux_reads_the_y_z_r_curves_of_a_pypmxvmd_bone_file(tmp_path):
    m, bones, _ = pypmxvmd_motion()
    got = read_vmd(save(m, tmp_path / "pypmxvmd.vmd"))
    assert [key.curves[1:] for key in got.bones] == [cs[1:] for _, _, _, _, cs, _ in bones]


# --------------------------------------------------------------------------------------------------
# (c) byte size
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 7])
def test_both_writers_make_a_camera_file_of_74_plus_61_n_bytes(tmp_path, n):
    keys = [CameraKey(i, -45.0, (0.0, 10.0, float(i)), (0.0, 0.5 * i, 0.0), 30 + i) for i in range(n)]
    ours = write_vmd(Vmd(model_name=CAMERA_MODEL_NAME, cameras=keys), tmp_path / "ours.vmd")
    assert ours.stat().st_size == 74 + 61 * n
    assert [k.frame_number for k in load(ours).camera_frames] == list(range(n))
    m = VmdMotion()
    m.header.model_name = CAMERA_MODEL_NAME
    m.camera_frames = [VmdCameraFrame(i, -45.0, [0.0, 10.0, float(i)], [0.0, 0.0, 0.0], None, 30 + i, False)
                       for i in range(n)]
    theirs = save(m, tmp_path / "theirs.vmd")
    assert theirs.stat().st_size == 74 + 61 * n
    assert [k.view_angle for k in read_vmd(theirs).cameras] == [30 + i for i in range(n)]
