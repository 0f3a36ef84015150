"""Root and heading geometry on joint positions, in torch (so decoders and datasets share one copy).

Conventions (pasdeux: metres, y up, right-handed; a body in its rest pose faces +z with x to its left):

* a window's motion is its root-relative joints, the root's velocity ``v_t = p_{t+1} - p_t`` (the last
  frame repeating ``v_{T-2}``; Bailando's ``global_vel``) and the root's start position;
  :func:`absolute_joints` inverts :func:`root_relative` + :func:`root_velocity` exactly;
* a body's heading is its yaw about +y, read from the hips (positions only: every skeleton, no
  rotation convention); :func:`to_heading_frame` puts world vectors in the body's own frame.

Nothing here imports Lightning: generation and checkpoint loading use these functions too.
"""

from __future__ import annotations

import torch


# --------------------------------------------------------------------------------------------------
# Root handling
# --------------------------------------------------------------------------------------------------
def root_relative(joints: torch.Tensor, root_joint: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., T, J, 3)`` absolute joints -> (joints minus the root of the same frame, root ``(..., T, 3)``).

    The root slot of the relative joints is exactly zero.
    """
    root = joints[..., root_joint, :]  # (..., T, 3)
    return joints - root[..., None, :], root.clone()


def root_velocity(root: torch.Tensor) -> torch.Tensor:
    """``(..., T, 3)`` positions -> velocities ``v_t = p_{t+1} - p_t``, the last frame repeating ``v_{T-2}``.

    This is Bailando's ``global_vel`` convention; a single frame has zero velocity.
    """
    vel = torch.zeros_like(root)
    if root.shape[-2] > 1:
        vel[..., :-1, :] = root[..., 1:, :] - root[..., :-1, :]
        vel[..., -1, :] = vel[..., -2, :]
    return vel


def integrate_root_velocity(root_vel: torch.Tensor, root_start: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`root_velocity`: ``p_0 = root_start``, ``p_t = p_{t-1} + v_{t-1}``.

    Args:
        root_vel: ``(..., T, 3)``; the last frame is not used.
        root_start: ``(..., 3)`` the position at the first frame.

    Returns:
        ``(..., T, 3)`` positions, in ``root_vel``'s dtype. The sum runs in float64 so a float32
        window of 240 frames drifts by no more than rounding of the result.
    """
    steps = root_vel[..., :-1, :].double()  # (..., T-1, 3)
    first = torch.zeros(*root_vel.shape[:-2], 1, 3, dtype=torch.float64, device=root_vel.device)
    offsets = torch.cat([first, torch.cumsum(steps, dim=-2)], dim=-2)  # (..., T, 3)
    return (offsets + root_start.double()[..., None, :]).to(root_vel.dtype)


def absolute_joints(joints: torch.Tensor, root_vel: torch.Tensor, root_start: torch.Tensor) -> torch.Tensor:
    """Root-relative joints ``(..., T, J, 3)`` + root velocity ``(..., T, 3)`` + start ``(..., 3)``
    -> absolute joints ``(..., T, J, 3)``: the inverse of what the datasets emit."""
    root = integrate_root_velocity(root_vel, root_start)  # (..., T, 3)
    return joints + root[..., None, :]


def heading_angle(joints: torch.Tensor, left_hip: int = 1, right_hip: int = 2) -> torch.Tensor:
    """Yaw of the body's facing direction about +y, radians, from the hips: ``(..., J, 3) -> (...)``.

    Facing is ``(left_hip - right_hip) x up`` on the floor (pasdeux: x to the body's left, y up,
    z forward), so a body in its rest pose has heading 0 and faces +z. Positions only: it works for
    every skeleton and does not depend on a rotation convention.
    """
    across = joints[..., left_hip, :] - joints[..., right_hip, :]  # (..., 3)
    # forward = across x (0, 1, 0) = (-a_z, 0, a_x); heading = atan2(forward_x, forward_z)
    return torch.atan2(-across[..., 2], across[..., 0])


def rotate_about_y(vectors: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate ``(..., 3)`` vectors by ``angle`` ``(...)`` radians about +y (right-handed); the two
    leading shapes broadcast."""
    c, s = torch.cos(angle), torch.sin(angle)
    x, y, z = vectors.unbind(-1)
    x_new, z_new = c * x + s * z, c * z - s * x
    return torch.stack([x_new, y.expand_as(x_new), z_new], dim=-1)


def to_heading_frame(vectors: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
    """World ``(..., 3)`` vectors into the frame of a body with yaw ``heading`` ``(...)``: x to its
    left, y up, z where it faces. Inverse: ``rotate_about_y(local, heading)``."""
    return rotate_about_y(vectors, -heading)


# --------------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------------
def turn_dancer(joints: torch.Tensor, root_vel: torch.Tensor, rotations_6d: torch.Tensor | None,
                angle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The same dance performed facing another way: every window turned about +y by ``angle``.

    Args:
        joints: ``(B, T, J, 3)`` pelvis-relative positions (turned about the pelvis).
        root_vel: ``(B, T, 3)`` pelvis velocity (turned with them).
        rotations_6d: ``(B, T, J, 6)`` local joint rotations, 6D (first two matrix columns, column after
            column); only the root's (joint 0, the global orientation) changes: ``R_y(angle) R_root``.
        angle: ``(B,)`` radians.

    Returns:
        the turned ``(joints, root_vel, rotations_6d)``; forward kinematics of the turned rotations gives
        the turned joints.
    """
    a = angle[:, None]  # (B, 1): one angle per window, every frame
    joints = rotate_about_y(joints, a[..., None].expand(joints.shape[:-1]))
    root_vel = rotate_about_y(root_vel, a.expand(root_vel.shape[:-1]))
    if rotations_6d is not None:
        columns = rotations_6d[..., 0, :].unflatten(-1, (2, 3))  # (B, T, 2, 3) the root's two columns
        columns = rotate_about_y(columns, a[..., None].expand(columns.shape[:-1]))
        rotations_6d = torch.cat([columns.flatten(-2)[..., None, :], rotations_6d[..., 1:, :]], dim=-2)
    return joints, root_vel, rotations_6d
