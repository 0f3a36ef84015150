"""Rotation conversions (through roma) and batched forward kinematics on a rest skeleton.

Rotation representations, by name:

* ``axis_angle``: (..., 3) rotation vectors (SMPL's pose parameters);
* ``matrix``: (..., 3, 3);
* ``6d``: (..., 6), the first two columns of the matrix, column after column (Zhou et al. 2019);
  mapped back to a rotation by Gram-Schmidt.

FK follows SMPL: the root joint sits at ``skeleton.root_rest + translation`` (SMPL's ``transl``), each
joint at its parent's position plus the parent's global rotation applied to the rest offset.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import roma
import torch
from einops import rearrange

from data.skeleton import Skeleton

RotationRep = Literal["axis_angle", "matrix", "6d"]
ROTATION_REPS = ("axis_angle", "matrix", "6d")


def to_rotmat(x: torch.Tensor, rep: RotationRep) -> torch.Tensor:
    """Any representation -> (..., 3, 3) rotation matrices."""
    if rep == "axis_angle":
        return roma.rotvec_to_rotmat(x)
    if rep == "matrix":
        return x
    if rep == "6d":
        return roma.special_gramschmidt(rearrange(x, "... (c r) -> ... r c", c=2, r=3))
    raise ValueError(f"unknown rotation representation {rep!r}; use one of {ROTATION_REPS}")


def from_rotmat(R: torch.Tensor, rep: RotationRep) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> the named representation."""
    if rep == "axis_angle":
        return roma.rotmat_to_rotvec(R)
    if rep == "matrix":
        return R
    if rep == "6d":
        return rearrange(R[..., :, :2], "... r c -> ... (c r)")
    raise ValueError(f"unknown rotation representation {rep!r}; use one of {ROTATION_REPS}")


def convert_rotations(x: torch.Tensor, src: RotationRep, dst: RotationRep) -> torch.Tensor:
    return x if src == dst else from_rotmat(to_rotmat(x, src), dst)


def forward_kinematics(
    skeleton: Skeleton,
    rotations: torch.Tensor,
    translation: torch.Tensor,
    rep: RotationRep = "axis_angle",
    offsets: torch.Tensor | None = None,
    return_global_rotations: bool = False,
):
    """Joint world positions from local joint rotations and root translation.

    Args:
        skeleton: the kinematic tree (parents, rest offsets, root rest position).
        rotations: local rotation of every joint relative to its parent,
            ``(..., J, 3)`` axis-angle, ``(..., J, 3, 3)`` matrices or ``(..., J, 6)`` 6D.
        translation: ``(..., 3)`` root translation (SMPL ``transl``).
        rep: the representation of ``rotations``.
        offsets: optional ``(J, 3)`` or ``(..., J, 3)`` per-sequence rest offsets (another body shape);
            the skeleton's own offsets when ``None``.
        return_global_rotations: also return ``(..., J, 3, 3)`` global rotations.

    Returns:
        ``(..., J, 3)`` joint positions, and the global rotations when asked.
    """
    R_local = to_rotmat(rotations, rep)  # (..., J, 3, 3)
    J = skeleton.num_joints
    if R_local.shape[-3] != J:
        raise ValueError(f"{skeleton.name} has {J} joints, rotations have {R_local.shape[-3]}")
    dtype, device = R_local.dtype, R_local.device
    if offsets is None:
        offsets = torch.tensor(skeleton.offsets, dtype=dtype, device=device)
    root_rest = torch.tensor(skeleton.root_rest, dtype=dtype, device=device)

    # Python loop over joints (<= 60): each step is a batched matmul over all frames, so the loop
    # costs J small kernel launches, not J * T.
    glob_R: list[torch.Tensor] = [R_local[..., 0, :, :]]
    glob_p: list[torch.Tensor] = [translation + root_rest]
    for j in range(1, J):
        p = skeleton.parents[j]
        glob_R.append(glob_R[p] @ R_local[..., j, :, :])
        glob_p.append(glob_p[p] + (glob_R[p] @ offsets[..., j, :, None])[..., 0])
    joints = torch.stack(glob_p, dim=-2)  # (..., J, 3)
    if return_global_rotations:
        return joints, torch.stack(glob_R, dim=-3)
    return joints


def forward_kinematics_np(skeleton: Skeleton, rotations: np.ndarray, translation: np.ndarray,
                          rep: RotationRep = "axis_angle") -> np.ndarray:
    """NumPy front of :func:`forward_kinematics`, computed in float64."""
    with torch.no_grad():
        out = forward_kinematics(skeleton, torch.as_tensor(np.asarray(rotations, np.float64)),
                                 torch.as_tensor(np.asarray(translation, np.float64)), rep)
    return out.numpy()


def global_to_local(skeleton: Skeleton, global_rotations: torch.Tensor) -> torch.Tensor:
    """(..., J, 3, 3) global rotations -> local rotations relative to each parent."""
    local = global_rotations.clone()
    for j in range(1, skeleton.num_joints):
        p = skeleton.parents[j]
        local[..., j, :, :] = global_rotations[..., p, :, :].transpose(-1, -2) @ global_rotations[..., j, :, :]
    return local
