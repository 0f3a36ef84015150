"""The Motion container and the pasdeux npz format."""

import numpy as np
import pytest

from data.errors import InputError
from data.formats import load_motion, save_motion
from data.motion import Motion, load_npz_motion, resample, save_npz, to_skeleton


def random_motion(skeleton="smpl24", T=12, fps=60.0, seed=0) -> Motion:
    from data.skeleton import get_skeleton

    J = get_skeleton(skeleton).num_joints
    rng = np.random.default_rng(seed)
    return Motion.from_smpl(skeleton, rng.normal(scale=0.3, size=(T, J, 3)),
                            rng.normal(scale=0.5, size=(T, 3)), fps, music="mBR0", name="dance")


def test_npz_round_trip(tmp_path):
    m = random_motion()
    path = save_npz(m, tmp_path / "m.npz")
    back = load_motion(path)
    assert (back.skeleton, back.fps, back.music, back.name) == ("smpl24", 60.0, "mBR0", "dance")
    np.testing.assert_allclose(back.joints, m.joints, atol=1e-6)
    np.testing.assert_allclose(back.rotations, m.rotations, atol=1e-6)
    np.testing.assert_allclose(back.root, m.root, atol=1e-6)
    assert back.duration == pytest.approx(12 / 60)


def test_positions_only_motion(tmp_path):
    m = random_motion()
    joints_only = Motion(skeleton="smpl24", fps=30, joints=m.joints)
    back = load_npz_motion(save_motion(joints_only, tmp_path / "j.npz"))
    assert back.rotations is None and back.root is None
    with pytest.raises(InputError, match="positions-only"):
        save_motion(joints_only, tmp_path / "j.bvh")
    assert not (tmp_path / "j.bvh").exists()


def test_slice_keeps_arrays_aligned():
    m = random_motion(T=20).slice(5, 9)
    assert m.num_frames == 4 and m.rotations.shape == (4, 24, 3) and m.root.shape == (4, 3)


@pytest.mark.parametrize("break_it,message", [
    (lambda a: a.update(joints=a["joints"][:, :10]), r"joints have shape \(12, 10, 3\)"),
    (lambda a: a.update(root=a["root"][:5]), r"root has shape \(5, 3\)"),
    (lambda a: a["rotations"].__setitem__((3, 4, 1), np.nan), r"rotations holds 1 NaN"),
    (lambda a: a["joints"].__setitem__((0, 0, 0), np.inf), r"joints holds 1 NaN/infinite"),
    (lambda a: a.pop("fps"), r"no 'fps' array"),
    (lambda a: a.update(skeleton=np.str_("human17")), r"unknown skeleton 'human17'"),
])
def test_bad_npz_is_one_clear_error(tmp_path, break_it, message):
    m = random_motion()
    arrays = dict(skeleton=np.str_("smpl24"), fps=np.float64(60), joints=m.joints.copy(),
                  rotations=m.rotations.copy(), root=m.root.copy())
    break_it(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=message) as err:
        load_motion(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_unknown_extension(tmp_path):
    p = tmp_path / "dance.fbx"
    p.write_bytes(b"\0")
    with pytest.raises(InputError, match="unknown motion format"):
        load_motion(p)


def _turning_motion(skeleton: str = "smpl24", T: int = 31, fps: float = 60.0):
    from data.skeleton import get_skeleton

    J = get_skeleton(skeleton).num_joints
    t = np.arange(T) / fps
    rotations = np.zeros((T, J, 3))
    rotations[:, 0, 1] = 2.0 * t  # the body turns about y at 2 rad/s
    rotations[:, 18, 2] = 0.5 * np.sin(3 * t)  # an elbow bends
    root = np.stack([0.5 * t, np.zeros(T), np.zeros(T)], axis=1)
    return Motion.from_smpl(skeleton, rotations, root, fps, name="turn")


def test_resample_halves_the_rate_and_interpolates_on_the_geodesic():
    m = _turning_motion(T=31, fps=60.0)
    half = resample(m, 30.0)
    assert half.fps == 30.0 and half.num_frames == 16  # frames at 0, 1/30, ..., 0.5 s
    np.testing.assert_allclose(half.joints, m.joints[::2], atol=1e-12)  # on the source frames: exact
    np.testing.assert_allclose(half.rotations, m.rotations[::2], atol=1e-12)
    up = resample(m, 120.0)  # midpoints: the turn halfway (slerp of a rotation about one axis)
    assert up.num_frames == 61
    np.testing.assert_allclose(up.rotations[1, 0], [0.0, 2.0 * 0.5 / 60.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(up.root[1], [0.25 / 60.0, 0.0, 0.0], atol=1e-12)
    assert resample(m, 60.0) is m


def test_to_skeleton_puts_an_smpl_dance_on_smplx_with_the_body_unchanged():

    m = _turning_motion("smpl24")
    x = to_skeleton(m, "smplx55")
    assert x.skeleton == "smplx55" and x.joints.shape == (m.num_frames, 55, 3)
    np.testing.assert_allclose(x.joints[:, :22], m.joints[:, :22], atol=1e-9)  # same body, same place
    assert np.abs(x.rotations[:, 22:]).max() == 0.0  # jaw, eyes and fingers at rest
    assert to_skeleton(x, "smplx55") is x
    with pytest.raises(InputError, match="positions-only"):
        to_skeleton(Motion("smpl24", 60.0, m.joints), "smplx55")
    with pytest.raises(InputError, match="cannot convert"):
        to_skeleton(x, "smpl24")
