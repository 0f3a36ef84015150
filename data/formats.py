"""Motion files in every supported format: :func:`load_motion` picks the reader by extension,
:func:`save_motion` the writer by name or extension.

==========  ================  =====================================================================
name        extension         what
==========  ================  =====================================================================
``npz``     ``.npz``          pasdeux's own: joints, rotations, root, fps, skeleton, music
``aistpp``  ``.pkl``          AIST++ ``motions/*.pkl`` (smpl_poses, smpl_trans, smpl_scaling)
``dd100``   ``.npy``          DD100 SMPL-X dict (read only)
``dcm``     ``.json``         DCM 60-bone global transforms, positions only (read only)
``bvh``     ``.bvh``          BVH on the SMPL / SMPL-X skeleton (Blender, MotionBuilder, any parser)
==========  ================  =====================================================================

The readers return :class:`data.motion.Motion` and know nothing of each other; this table is the one
place that knows them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from data.datasets.aistpp import load_aistpp_motion, save_aistpp_pkl
from data.datasets.dcm import load_dcm_motion
from data.datasets.dd100 import load_dd100_motion
from data.errors import InputError
from data.motion import Motion, load_npz_motion, save_npz

def _load_bvh(path: str | os.PathLike) -> Motion:
    from data.bvh import load_bvh  # torch and roma: imported for BVH files only, so npz/pkl I/O starts fast

    return load_bvh(path)


def _save_bvh(motion: Motion, path: str | os.PathLike) -> Path:
    from data.bvh import save_bvh

    return save_bvh(motion, path)


READERS: dict[str, Callable[[str | os.PathLike], Motion]] = {
    ".npz": load_npz_motion,
    ".pkl": load_aistpp_motion,
    ".npy": load_dd100_motion,
    ".json": load_dcm_motion,
    ".bvh": _load_bvh,
}
"""Motion readers by file extension (lower case)."""

WRITERS: dict[str, tuple[str, Callable[[Motion, str | os.PathLike], Path]]] = {
    "npz": (".npz", save_npz),
    "aistpp": (".pkl", save_aistpp_pkl),
    "bvh": (".bvh", _save_bvh),
}
"""Motion writers by format name: (extension, writer)."""

MOTION_FORMATS = tuple(WRITERS)
"""The formats :func:`save_motion` writes."""


def load_motion(path: str | os.PathLike) -> Motion:
    """Read a motion file, the format chosen by extension (.npz, .pkl, .npy, .json, .bvh)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found", "check the path")
    reader = READERS.get(p.suffix.lower())
    if reader is None:
        raise InputError(p, f"unknown motion format '{p.suffix.lower()}'",
                         "give a .npz (pasdeux), .pkl (AIST++), .npy (DD100), .json (DCM) or .bvh file")
    return reader(p)


def save_motion(motion: Motion, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write ``motion`` in format ``fmt`` (or the one the extension names), atomically."""
    p = Path(path)
    if fmt is None:
        by_suffix = {suffix: name for name, (suffix, _) in WRITERS.items()}
        fmt = by_suffix.get(p.suffix.lower())
        if fmt is None:
            raise InputError(p, f"cannot tell the output format from '{p.suffix}'",
                             f"use one of {', '.join(s for s, _ in WRITERS.values())} or pass the format")
    if fmt not in WRITERS:
        raise InputError(p, f"unknown output format {fmt!r}", f"use one of {', '.join(MOTION_FORMATS)}")
    if fmt != "npz" and not motion.has_rotations:
        raise InputError(motion.name or None, f"positions-only motion cannot be written as {fmt}",
                         "it needs joint rotations; write npz instead")
    return WRITERS[fmt][1](motion, p)


__all__ = ["READERS", "WRITERS", "MOTION_FORMATS", "load_motion", "save_motion"]
