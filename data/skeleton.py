"""Skeletons (joint names, parents, rest offsets) and the body-part splits the tokenizers use.

Three skeletons ship, each a JSON file in ``data/assets/<name>_skeleton.json``:

* ``smpl24``: the SMPL body (AIST++), figures of the public SMPL template;
* ``smplx55``: SMPL-X body + jaw + eyes + 2x15 finger joints (DD100); body joints equal smpl24's 0..21;
* ``mmd60``: the 60 MikuMikuDance bones DCM stores as global transforms.

Conventions: metres, y up, x to the body's left, z forward; a joint's parent always comes before it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parent / "assets"


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree in its rest pose."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    """Parent index per joint; -1 for the root. Parents precede children."""
    offsets: np.ndarray
    """(J, 3) rest offset of each joint from its parent, metres (the root's is zero)."""
    root_rest: np.ndarray
    """(3,) rest position of the root; FK places the root at ``root_rest + translation``."""

    def __post_init__(self) -> None:
        J = len(self.joint_names)
        if len(self.parents) != J or self.offsets.shape != (J, 3):
            raise ValueError(f"skeleton {self.name}: {J} names, {len(self.parents)} parents, "
                             f"offsets {self.offsets.shape}")
        for j, p in enumerate(self.parents):
            if (j == 0) != (p == -1) or p >= j:
                raise ValueError(f"skeleton {self.name}: joint {j} has parent {p}; the root must be "
                                 "joint 0 and every parent must precede its child")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, name: str) -> int:
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name} has no joint {name!r}") from None

    def children(self, joint: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == joint]

    def rest_joints(self) -> np.ndarray:
        """(J, 3) world positions of the joints in the rest pose, root at ``root_rest``."""
        pos = np.zeros((self.num_joints, 3))
        pos[0] = self.root_rest
        for j in range(1, self.num_joints):
            pos[j] = pos[self.parents[j]] + self.offsets[j]
        return pos

    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs, for drawing."""
        return [(p, j) for j, p in enumerate(self.parents) if p >= 0]


SKELETONS = ("smpl24", "smplx55", "mmd60")


@functools.cache
def get_skeleton(name: str) -> Skeleton:
    """Load a shipped skeleton by name (``smpl24``, ``smplx55``, ``mmd60``)."""
    path = ASSETS / f"{name}_skeleton.json"
    if name not in SKELETONS or not path.is_file():
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(SKELETONS)}")
    spec = json.loads(path.read_text())
    offsets = np.asarray(spec["offsets"], dtype=np.float64)
    offsets.setflags(write=False)
    root_rest = np.asarray(spec.get("root_rest", [0.0, 0.0, 0.0]), dtype=np.float64)
    root_rest.setflags(write=False)
    return Skeleton(name=spec["name"], joint_names=tuple(spec["joints"]),
                    parents=tuple(int(p) for p in spec["parents"]), offsets=offsets,
                    root_rest=root_rest)


# --------------------------------------------------------------------------------------------------
# Body-part splits (joint indices). Solo follows Bailando, duet follows Duolando.
# --------------------------------------------------------------------------------------------------
SOLO_PARTS: dict[str, tuple[int, ...]] = {
    "upper": (3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23),
    "lower": (0, 1, 2, 4, 5, 7, 8, 10, 11),
}
DUET_PARTS: dict[str, tuple[int, ...]] = {
    # SMPL-X has no hand joints 22/23; its 22..24 are jaw and eyes, which ride with the upper body.
    "upper": (3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24),
    "lower": (0, 1, 2, 4, 5, 7, 8, 10, 11),
    "lhand": tuple(range(25, 40)),
    "rhand": tuple(range(40, 55)),
}
PART_SETS = {"solo": SOLO_PARTS, "duet": DUET_PARTS}


def split_parts(x, parts: dict[str, tuple[int, ...]]) -> dict:
    """Split ``x`` (..., J, C) into ``{part: (..., J_part, C)}`` (numpy or torch)."""
    return {name: x[..., list(idx), :] for name, idx in parts.items()}


def merge_parts(pieces: dict, parts: dict[str, tuple[int, ...]], num_joints: int):
    """Inverse of :func:`split_parts`: scatter ``{part: (..., J_part, C)}`` back into (..., J, C)."""
    first = next(iter(pieces.values()))
    shape = tuple(first.shape[:-2]) + (num_joints, first.shape[-1])
    if isinstance(first, np.ndarray):
        out = np.zeros(shape, dtype=first.dtype)
    else:
        out = first.new_zeros(shape)
    covered = set()
    for name, idx in parts.items():
        out[..., list(idx), :] = pieces[name]
        covered.update(idx)
    if covered != set(range(num_joints)):
        raise ValueError(f"parts cover joints {sorted(covered)}, not all {num_joints}")
    return out


# Duolando's 24-joint reduction of SMPL-X: body joints 0..21 plus each hand as the mean of the
# five finger bases (index1, middle1, pinky1, ring1, thumb1).
SMPLX_LEFT_FINGER_BASES = (25, 28, 31, 34, 37)
SMPLX_RIGHT_FINGER_BASES = (40, 43, 46, 49, 52)


def to_smpl24(joints: np.ndarray, skeleton: str) -> np.ndarray:
    """Joints of an ``smpl24`` or ``smplx55`` motion as the 24 SMPL joints (what the motion features,
    the body capsules and Duolando's metrics expect).

    SMPL-X is reduced as Duolando does: body joints 0..21, then the left / right "hand" as the mean
    of the five finger-base joints of that hand.
    """
    x = np.asarray(joints, dtype=np.float64)
    if skeleton == "smpl24":
        return x
    if skeleton == "smplx55":
        left = x[..., list(SMPLX_LEFT_FINGER_BASES), :].mean(axis=-2, keepdims=True)  # (T, 1, 3)
        right = x[..., list(SMPLX_RIGHT_FINGER_BASES), :].mean(axis=-2, keepdims=True)
        return np.concatenate([x[..., :22, :], left, right], axis=-2)  # (T, 24, 3)
    raise ValueError(f"no SMPL joints in skeleton {skeleton!r}: give smpl24 or smplx55 joints")
