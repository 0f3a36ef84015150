"""The in-memory motion every stage passes around, and pasdeux's own npz file of it.

A :class:`Motion` is one dancer: joint world positions ``(T, J, 3)`` plus, when known, the SMPL-style
parameters that produced them (local axis-angle rotations ``(T, J, 3)`` and root translation
``(T, 3)``). Position-only motions (DCM's MMD bones, a positions-only generator) have no rotations and
cannot be exported to rotation formats (BVH, AIST++ pkl).

Reading and writing every other format (AIST++ pkl, DD100 npy, DCM json, BVH) is
:mod:`data.formats`, above the readers; this module imports none of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from data.errors import InputError, check_finite
from data.io import load_npz, save_npz_atomic
from data.skeleton import get_skeleton

NPZ_FORMAT_VERSION = 1


@dataclass
class Motion:
    """One dancer's motion."""

    skeleton: str
    """Skeleton name: ``smpl24``, ``smplx55`` or ``mmd60``."""
    fps: float
    joints: np.ndarray
    """(T, J, 3) joint world positions, metres, y up."""
    rotations: np.ndarray | None = None
    """(T, J, 3) local axis-angle rotations (SMPL pose parameters), or ``None`` for positions only."""
    root: np.ndarray | None = None
    """(T, 3) root translation (SMPL ``transl``; the pelvis sits at ``root_rest + root``)."""
    music: str = ""
    """The source music (a path or a dataset music id), empty when unknown."""
    name: str = ""
    extras: dict = field(default_factory=dict)
    """Format-specific values carried through a round trip (e.g. SMPL-X ``betas``)."""

    def __post_init__(self) -> None:
        sk = get_skeleton(self.skeleton)
        J = sk.num_joints
        self.joints = np.asarray(self.joints, dtype=np.float64)
        if self.joints.ndim != 3 or self.joints.shape[1:] != (J, 3):
            raise ValueError(f"joints have shape {self.joints.shape}, expected (T, {J}, 3) for {self.skeleton}")
        T = self.joints.shape[0]
        if self.rotations is not None:
            self.rotations = np.asarray(self.rotations, dtype=np.float64)
            if self.rotations.shape != (T, J, 3):
                raise ValueError(f"rotations have shape {self.rotations.shape}, expected ({T}, {J}, 3)")
            if self.root is None:
                raise ValueError("rotations given without root translation")
        if self.root is not None:
            self.root = np.asarray(self.root, dtype=np.float64)
            if self.root.shape != (T, 3):
                raise ValueError(f"root has shape {self.root.shape}, expected ({T}, 3)")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @classmethod
    def from_smpl(cls, skeleton: str, rotations: np.ndarray, root: np.ndarray, fps: float,
                  **kwargs) -> "Motion":
        """Build a motion from SMPL parameters, computing joints with the built-in FK."""
        from data.fk import forward_kinematics_np  # torch: only for motions built from parameters

        rotations = np.asarray(rotations, dtype=np.float64)
        joints = forward_kinematics_np(get_skeleton(skeleton), rotations, root)
        return cls(skeleton=skeleton, fps=fps, joints=joints, rotations=rotations, root=root, **kwargs)

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def has_rotations(self) -> bool:
        return self.rotations is not None

    def slice(self, start: int, stop: int) -> "Motion":
        cut = lambda a: None if a is None else a[start:stop]  # noqa: E731
        return replace(self, joints=self.joints[start:stop], rotations=cut(self.rotations),
                       root=cut(self.root))


def floor_height(joints: np.ndarray, percentile: float = 5.0) -> float:
    """The floor under a motion: the ``percentile`` over frames of each frame's lowest joint height
    (``joints`` (T, J, 3), y up), robust to a jump or a glitchy frame."""
    return float(np.percentile(np.asarray(joints)[:, :, 1].min(axis=1), percentile))


def resample(motion: Motion, fps: float) -> Motion:
    """``motion`` at another frame rate over the same time span: frame ``k`` is time ``k / fps``;
    positions and the root translation are interpolated linearly, rotations along the geodesic
    between the two neighbouring frames (slerp, ``roma``). The same motion when ``fps`` is its own."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    if abs(fps - motion.fps) < 1e-9:
        return motion
    T = motion.num_frames
    n = int(np.floor((T - 1) * fps / motion.fps + 1e-9)) + 1
    src = np.arange(n) * (motion.fps / fps)  # (n,) fractional source frames
    i0 = np.minimum(np.floor(src).astype(int), T - 1)
    i1 = np.minimum(i0 + 1, T - 1)
    w = src - i0  # (n,)
    lerp = lambda a: None if a is None else a[i0] + (a[i1] - a[i0]) * w.reshape(-1, *([1] * (a.ndim - 1)))  # noqa: E731
    rotations = None
    if motion.rotations is not None:
        import roma
        import torch

        r0, r1 = torch.as_tensor(motion.rotations[i0]), torch.as_tensor(motion.rotations[i1])  # (n, J, 3)
        step = roma.rotvec_composition([roma.rotvec_inverse(r0), r1])  # r0^-1 r1
        turned = torch.as_tensor(w).reshape(-1, 1, 1) * step
        rotations = roma.rotvec_composition([r0, turned]).numpy()
    return replace(motion, fps=float(fps), joints=lerp(motion.joints), rotations=rotations, root=lerp(motion.root))


def to_skeleton(motion: Motion, skeleton: str) -> Motion:
    """``motion`` on another skeleton. ``smpl24 -> smplx55``: SMPL's 22 body joints keep their
    rotations, SMPL-X's jaw, eyes and fingers rest, the pelvis stays where it was, joints by forward
    kinematics on SMPL-X's rest skeleton (a solo dance as a duet leader). Needs rotations."""
    if motion.skeleton == skeleton:
        return motion
    if (motion.skeleton, skeleton) != ("smpl24", "smplx55"):
        raise InputError(motion.name or None, f"cannot convert a {motion.skeleton} motion to {skeleton}",
                         "give an smpl24 or smplx55 motion")
    if motion.rotations is None:
        raise InputError(motion.name or None, "a positions-only smpl24 motion cannot be put on smplx55",
                         "give a motion with joint rotations (npz from `cli.py dance`, AIST++ pkl, BVH)")
    target = get_skeleton(skeleton)
    rotations = np.zeros((motion.num_frames, target.num_joints, 3))
    rotations[:, :22] = motion.rotations[:, :22]  # SMPL and SMPL-X share the 22 body joints, in order
    root = motion.joints[:, 0] - target.root_rest  # the pelvis where it was
    return Motion.from_smpl(skeleton, rotations, root, motion.fps, music=motion.music, name=motion.name)


# --------------------------------------------------------------------------------------------------
# pasdeux npz
# --------------------------------------------------------------------------------------------------
def save_npz(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` as a pasdeux ``.npz`` (atomically)."""
    arrays = dict(
        format_version=np.int64(NPZ_FORMAT_VERSION),
        skeleton=np.str_(motion.skeleton),
        fps=np.float64(motion.fps),
        joints=motion.joints.astype(np.float32),
        music=np.str_(motion.music),
        name=np.str_(motion.name),
    )
    if motion.rotations is not None:
        arrays["rotations"] = motion.rotations.astype(np.float32)
    if motion.root is not None:
        arrays["root"] = motion.root.astype(np.float32)
    for key, value in motion.extras.items():
        arrays[f"extra_{key}"] = np.asarray(value)
    return save_npz_atomic(path, **arrays)


def load_npz_motion(path: str | os.PathLike) -> Motion:
    """Read a pasdeux ``.npz`` motion, validating every array."""
    z = load_npz(path)
    for key in ("skeleton", "fps", "joints"):
        if key not in z:
            raise InputError(path, f"no '{key}' array: not a pasdeux motion npz",
                             "write it with `cli.py convert ... --to npz`")
    skeleton = str(z["skeleton"])
    try:
        J = get_skeleton(skeleton).num_joints
    except KeyError as e:
        raise InputError(path, str(e).strip("'\""), "use a shipped skeleton name") from None
    joints = z["joints"]
    if joints.ndim != 3 or joints.shape[1:] != (J, 3) or joints.shape[0] == 0:
        raise InputError(path, f"joints have shape {joints.shape}, expected (T, {J}, 3) with T > 0 "
                               f"for skeleton {skeleton}", "check the file's writer")
    check_finite(joints, path, "joints")
    rotations, root = z.get("rotations"), z.get("root")
    if rotations is not None:
        if rotations.shape != joints.shape:
            raise InputError(path, f"rotations have shape {rotations.shape}, expected {joints.shape}",
                             "check the file's writer")
        check_finite(rotations, path, "rotations")
        if root is None:
            raise InputError(path, "rotations without a 'root' array", "add the root translation (T, 3)")
    if root is not None:
        if root.shape != (joints.shape[0], 3):
            raise InputError(path, f"root has shape {root.shape}, expected ({joints.shape[0]}, 3)",
                             "check the file's writer")
        check_finite(root, path, "root")
    fps = float(z["fps"])
    if not fps > 0:
        raise InputError(path, f"fps is {fps}", "store the motion's frame rate")
    # 0-d arrays (a gender string, a scalar) come back as the Python value they were saved from.
    extras = {k[len("extra_"):]: (v.item() if v.ndim == 0 else v)
              for k, v in z.items() if k.startswith("extra_")}
    return Motion(skeleton=skeleton, fps=fps, joints=joints, rotations=rotations, root=root,
                  music=str(z.get("music", "")), name=str(z.get("name", Path(path).stem)),
                  extras=extras)
