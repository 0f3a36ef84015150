"""Skeletons, rotation conversions and forward kinematics against hand-computed cases."""

import math

import numpy as np
import pytest
import torch

from data.fk import ROTATION_REPS, convert_rotations, forward_kinematics, forward_kinematics_np, \
    from_rotmat, global_to_local, to_rotmat
from data.skeleton import DUET_PARTS, SOLO_PARTS, SKELETONS, get_skeleton, merge_parts, split_parts

SMPL = get_skeleton("smpl24")


@pytest.mark.parametrize("name", SKELETONS)
def test_shipped_skeletons_are_trees(name):
    sk = get_skeleton(name)
    assert sk.parents[0] == -1
    assert all(0 <= p < j for j, p in enumerate(sk.parents) if j)
    assert sk.offsets.shape == (sk.num_joints, 3)
    assert len(set(sk.joint_names)) == sk.num_joints


def test_skeleton_sizes_and_shared_body():
    assert get_skeleton("smpl24").num_joints == 24
    assert get_skeleton("smplx55").num_joints == 55
    assert get_skeleton("mmd60").num_joints == 60
    smplx = get_skeleton("smplx55")
    # SMPL-X's body is SMPL's first 22 joints, same tree and figures.
    assert smplx.parents[:22] == SMPL.parents[:22]
    np.testing.assert_array_equal(smplx.offsets[:22], SMPL.offsets[:22])
    # Left-side joints lie at +x in the rest pose (x to the body's left).
    rest = smplx.rest_joints()
    assert rest[smplx.index("left_wrist"), 0] > 0.5 > -0.5 > rest[smplx.index("right_wrist"), 0]
    assert rest[smplx.index("left_middle3"), 0] > rest[smplx.index("left_wrist"), 0]


def test_rest_pose_fk_is_rest_skeleton_plus_translation():
    t = np.array([[0.1, -0.2, 0.3]])
    joints = forward_kinematics_np(SMPL, np.zeros((1, 24, 3)), t)
    np.testing.assert_allclose(joints[0], SMPL.rest_joints() + t[0], atol=1e-12)
    # The pelvis sits at root_rest + transl, exactly SMPL's convention.
    np.testing.assert_allclose(joints[0, 0], [-0.00217368 + 0.1, -0.240789175 - 0.2, 0.028583793 + 0.3])


def test_elbow_rotation_hand_computed():
    # Rotate the left shoulder (16) 90 degrees about +z: the elbow offset (x, y, z) becomes (-y, x, z).
    rot = np.zeros((1, 24, 3))
    rot[0, 16] = [0.0, 0.0, math.pi / 2]
    joints = forward_kinematics_np(SMPL, rot, np.zeros((1, 3)))
    rest = SMPL.rest_joints()
    ox, oy, oz = SMPL.offsets[18]
    np.testing.assert_allclose(joints[0, 18], rest[16] + [-oy, ox, oz], atol=1e-12)
    np.testing.assert_allclose(joints[0, :17], rest[:17], atol=1e-12)  # nothing upstream moves
    # The wrist follows rigidly: its distance to the elbow is unchanged.
    assert np.linalg.norm(joints[0, 20] - joints[0, 18]) == pytest.approx(np.linalg.norm(SMPL.offsets[20]))


def test_root_yaw_180_mirrors_about_pelvis():
    rot = np.zeros((1, 24, 3))
    rot[0, 0] = [0.0, math.pi, 0.0]
    joints = forward_kinematics_np(SMPL, rot, np.zeros((1, 3)))
    rest = SMPL.rest_joints()
    rel = rest - rest[0]
    np.testing.assert_allclose(joints[0] - joints[0, 0], rel * [-1, 1, -1], atol=1e-12)


@pytest.mark.parametrize("rep", ROTATION_REPS)
def test_fk_is_the_same_in_every_rotation_representation(rep):
    aa = torch.randn(2, 5, 24, 3, dtype=torch.float64)
    t = torch.randn(2, 5, 3, dtype=torch.float64)
    ref = forward_kinematics(SMPL, aa, t)
    out = forward_kinematics(SMPL, convert_rotations(aa, "axis_angle", rep), t, rep=rep)
    assert out.shape == (2, 5, 24, 3)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)


def test_six_d_is_first_two_columns():
    R = to_rotmat(torch.randn(4, 3, dtype=torch.float64), "axis_angle")
    six = from_rotmat(R, "6d")
    torch.testing.assert_close(six[:, :3], R[:, :, 0])
    torch.testing.assert_close(six[:, 3:], R[:, :, 1])
    torch.testing.assert_close(to_rotmat(six, "6d"), R)


def test_global_to_local_inverts_fk_rotations():
    aa = torch.randn(3, 24, 3, dtype=torch.float64)
    _, glob = forward_kinematics(SMPL, aa, torch.zeros(3, 3, dtype=torch.float64),
                                 return_global_rotations=True)
    torch.testing.assert_close(global_to_local(SMPL, glob), to_rotmat(aa, "axis_angle"))


def test_fk_rejects_wrong_joint_count():
    with pytest.raises(ValueError, match="24 joints"):
        forward_kinematics(SMPL, torch.zeros(1, 22, 3), torch.zeros(1, 3))


@pytest.mark.parametrize("parts,J", [(SOLO_PARTS, 24), (DUET_PARTS, 55)])
def test_parts_partition_the_joints_and_round_trip(parts, J):
    flat = sorted(j for idx in parts.values() for j in idx)
    assert flat == list(range(J))
    x = np.random.default_rng(0).normal(size=(2, 7, J, 3))
    pieces = split_parts(x, parts)
    assert pieces["lower"].shape == (2, 7, 9, 3)
    np.testing.assert_array_equal(merge_parts(pieces, parts, J), x)
    t = torch.as_tensor(x)
    torch.testing.assert_close(merge_parts(split_parts(t, parts), parts, J), t)
