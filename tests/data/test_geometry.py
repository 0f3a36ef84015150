"""Root and heading geometry: exact round trips, the heading frame, and turning a dancer."""

import torch

from data.fk import forward_kinematics, from_rotmat, to_rotmat
from data.geometry import (absolute_joints, heading_angle, integrate_root_velocity, root_relative, root_velocity,
                           rotate_about_y, to_heading_frame, turn_dancer)
from data.skeleton import get_skeleton


# --------------------------------------------------------------------------------------------------
# Root handling
# --------------------------------------------------------------------------------------------------
def test_root_relative_velocity_round_trip_is_exact():
    # Dyadic values (k / 1024, |k| < 2**14): every sum and difference is exact in float32, so the
    # inverse must reproduce the joints bit for bit.
    g = torch.Generator().manual_seed(0)
    joints = torch.randint(-4096, 4096, (3, 50, 24, 3), generator=g).float() / 1024  # (B, T, J, 3)
    rel, root = root_relative(joints)
    assert torch.equal(rel[..., 0, :], torch.zeros(3, 50, 3))  # the pelvis slot holds zeros
    vel = root_velocity(root)
    assert torch.equal(vel[:, :-1], root[:, 1:] - root[:, :-1])
    assert torch.equal(vel[:, -1], vel[:, -2])  # Bailando: the last frame repeats
    assert torch.equal(absolute_joints(rel, vel, root[:, 0]), joints)
    assert torch.equal(integrate_root_velocity(vel, root[:, 0]), root)
    # The last velocity is never used by the inverse.
    vel2 = vel.clone()
    vel2[:, -1] = 123.0
    assert torch.equal(absolute_joints(rel, vel2, root[:, 0]), joints)


def test_round_trip_on_float32_motion_and_one_frame():
    g = torch.Generator().manual_seed(1)
    joints = torch.cumsum(torch.randn(240, 24, 3, generator=g) * 0.02, 0) + 3.0  # metres, drifting
    rel, root = root_relative(joints)
    back = absolute_joints(rel, root_velocity(root), root[0])
    torch.testing.assert_close(back, joints, rtol=0, atol=2e-6)
    one = joints[:1]
    r1, p1 = root_relative(one)
    assert torch.equal(root_velocity(p1), torch.zeros(1, 3))
    assert torch.equal(absolute_joints(r1, root_velocity(p1), p1[0]), one)


def test_turn_dancer_turns_joints_velocity_and_root_orientation_together():
    torch.manual_seed(0)
    sk = get_skeleton("smpl24")
    six = from_rotmat(to_rotmat(0.4 * torch.randn(2, 5, 24, 3, dtype=torch.float64), "axis_angle"), "6d")
    joints = forward_kinematics(sk, six, torch.zeros(2, 5, 3, dtype=torch.float64), rep="6d")
    rel = joints - joints[..., :1, :]  # (2, 5, 24, 3)
    vel = torch.randn(2, 5, 3, dtype=torch.float64)
    angle = torch.tensor([0.5 * torch.pi, -0.3], dtype=torch.float64)
    rel_t, vel_t, six_t = turn_dancer(rel, vel, six, angle)
    # Forward kinematics of the turned rotations is the turned skeleton.
    fk_t = forward_kinematics(sk, six_t, torch.zeros(2, 5, 3, dtype=torch.float64), rep="6d")
    assert torch.allclose(fk_t - fk_t[..., :1, :], rel_t, atol=1e-10)
    assert torch.equal(six_t[..., 1:, :], six[..., 1:, :])  # local rotations below the root are unchanged
    # A quarter turn about +y: (x, y, z) -> (z, y, -x); the heading grows by the angle; lengths stay.
    assert torch.allclose(vel_t[0], torch.stack([vel[0, :, 2], vel[0, :, 1], -vel[0, :, 0]], dim=-1))
    turned = torch.remainder(heading_angle(rel_t) - heading_angle(rel) - angle[:, None] + torch.pi, 2 * torch.pi)
    assert torch.allclose(turned, torch.full_like(turned, torch.pi), atol=1e-9)
    assert torch.allclose(rel_t.norm(dim=-1), rel.norm(dim=-1))
