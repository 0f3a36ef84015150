"""The Motion container and the pasdeux npz format."""

import numpy as np
import pytest

from data.errors import InputError
from data.formats import load_motion, save_motion
from data.motion import Motion, load_npz_motion, save_npz


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
