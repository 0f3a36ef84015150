"""Root and heading arithmetic the tokenizers decode with, free of Lightning.

These are the conventions of :mod:`data.datamodules` (``root_velocity`` / ``integrate_root_velocity``,
``heading_angle`` / ``to_heading_frame``), which the datasets use to build samples. That module
imports Lightning (it holds the DataModules), and checkpoint loading for generation must not, so the
few lines live here too; ``tests/tokenizer/test_tokenizer_geometry.py`` pins them to the originals.
"""

from __future__ import annotations

import torch


def integrate_root_velocity(root_vel: torch.Tensor, root_start: torch.Tensor) -> torch.Tensor:
    """``p_0 = root_start``, ``p_t = p_{t-1} + v_{t-1}``: ``(..., T, 3)``, ``(..., 3)`` -> ``(..., T, 3)``.

    The last velocity is not used (``v_t = p_{t+1} - p_t``); the sum runs in float64.
    """
    steps = root_vel[..., :-1, :].double()  # (..., T-1, 3)
    first = torch.zeros(*root_vel.shape[:-2], 1, 3, dtype=torch.float64, device=root_vel.device)
    offsets = torch.cat([first, torch.cumsum(steps, dim=-2)], dim=-2)  # (..., T, 3)
    return (offsets + root_start.double()[..., None, :]).to(root_vel.dtype)


def heading_angle(joints: torch.Tensor, left_hip: int = 1, right_hip: int = 2) -> torch.Tensor:
    """Yaw about +y of the body's facing, from the hips: ``(..., J, 3) -> (...)``; rest pose = 0 (+z)."""
    across = joints[..., left_hip, :] - joints[..., right_hip, :]  # (..., 3)
    return torch.atan2(-across[..., 2], across[..., 0])


def rotate_about_y(vectors: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate ``(..., 3)`` vectors by ``angle`` ``(...)`` radians about +y (right-handed)."""
    c, s = torch.cos(angle), torch.sin(angle)
    x, y, z = vectors.unbind(-1)
    x_new, z_new = c * x + s * z, c * z - s * x
    return torch.stack([x_new, y.expand_as(x_new), z_new], dim=-1)


def to_heading_frame(vectors: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
    """World ``(..., 3)`` vectors into the frame of a body with yaw ``heading``; inverse:
    :func:`rotate_about_y` by ``heading``."""
    return rotate_about_y(vectors, -heading)


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


__all__ = ["integrate_root_velocity", "heading_angle", "rotate_about_y", "to_heading_frame", "turn_dancer"]
