"""Named evaluation protocols: every setting that changes a score, one frozen record per protocol.

A protocol is the reference paper's evaluation (Bailando, Duolando, DanceCamera3D) or pasdeux's
corrected variant of it. ``cli.py evaluate`` prints the protocol beside every score, and the feature
cache is keyed by the settings a protocol's features depend on (:meth:`Protocol.feature_settings`),
so a number is never reused under other settings. The table of protocols is in
:mod:`metrics.evaluate`'s docstring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from data.errors import InputError

TASKS = ("solo", "duet", "camera")

# the settings that per-sequence features depend on (the rest only change how sets are compared)
_FEATURE_SETTINGS = ("legacy", "resample_fps", "crop_frames", "crop_reference", "zero_start", "beat_unit",
                     "bas_smoothing", "fact_order", "beats_before_crop", "pfc_fps", "aspect", "chunk_frames",
                     "camera_frame_time", "contact_margin", "task")


@dataclass(frozen=True)
class Protocol:
    """Every setting that changes a score. Named instances live in :data:`PROTOCOLS`."""

    name: str
    task: str
    summary: str
    data_fps: float
    """The frame rate the protocol was defined on; a run on other data says so in its notes."""
    legacy: bool = True
    """Kinetic / geometric features with the reference quirks (see :mod:`metrics.features`)."""
    resample_fps: float | None = None
    """Resample every motion to this rate first (``None``: keep the data's rate)."""
    crop_frames: int | None = None
    """Keep the first ``crop_frames`` frames of each generated sequence (``None``: full length)."""
    crop_reference: bool = False
    """Crop the reference sequences too (Bailando does not)."""
    zero_start: bool = True
    """Translate each sequence so its first-frame root is at the origin before the features."""
    reference_set: str = "all"
    """``all`` sequences of a dataset root, or its ``test`` split (a plain folder is used whole)."""
    beat_unit: str = "frames"
    """Unit of ``bas_sigma``, ``bas_smoothing`` and ``fact_order``: ``frames`` or ``seconds``."""
    bas_sigma: float = 3.0
    bas_smoothing: float = 5.0
    fact_sigma: float = 3.0
    fact_order: float = 10.0
    beats_before_crop: bool = True
    """Beat alignment on the full-length sequence (Bailando: full length, absolute positions)."""
    pfc_fps: float = 30.0
    """PFC is computed after resampling to this rate (EDGE's 30 fps)."""
    aspect: float | None = None
    """Camera frame aspect for the shot features (``None``: the reference square frustum)."""
    chunk_frames: int = 75
    """Camera kinetic chunk length, frames."""
    camera_frame_time: float | None = 1.0 / 30.0
    """Camera kinetic Δ, seconds (``None``: 1 / the camera's fps)."""
    contact_margin: float = 0.02
    """Duet contact: gap below which two bodies touch, metres (two 1 cm inflations)."""
    drop_constant_dims: bool = False
    """Leave feature dimensions that are constant over the reference set out of FID / Div (the
    reference protocols keep them, and their z-scores, divided by 1e-10, then dominate)."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"protocol {self.name}: task must be one of {TASKS}, got {self.task!r}")
        if not self.data_fps > 0:
            raise ValueError(f"protocol {self.name}: data_fps must be positive")
        if self.resample_fps is not None and not self.resample_fps > 0:
            raise ValueError(f"protocol {self.name}: resample_fps must be positive or None")
        if self.crop_frames is not None and self.crop_frames < 3:
            raise ValueError(f"protocol {self.name}: crop_frames must be >= 3 or None")
        if self.reference_set not in ("all", "test"):
            raise ValueError(f"protocol {self.name}: reference_set must be 'all' or 'test'")
        if self.beat_unit not in ("frames", "seconds"):
            raise ValueError(f"protocol {self.name}: beat_unit must be 'frames' or 'seconds'")
        if not (self.bas_sigma > 0 and self.fact_sigma > 0 and self.bas_smoothing >= 0 and self.fact_order > 0):
            raise ValueError(f"protocol {self.name}: beat sigmas and order must be positive, smoothing >= 0")
        if not self.pfc_fps > 0:
            raise ValueError(f"protocol {self.name}: pfc_fps must be positive")
        if self.aspect is not None and not self.aspect > 0:
            raise ValueError(f"protocol {self.name}: aspect must be positive or None")
        if self.chunk_frames < 5:
            raise ValueError(f"protocol {self.name}: chunk_frames must be >= 5 (the ±2 frame window)")
        if self.camera_frame_time is not None and not self.camera_frame_time > 0:
            raise ValueError(f"protocol {self.name}: camera_frame_time must be positive or None")
        if not self.contact_margin >= 0:
            raise ValueError(f"protocol {self.name}: contact_margin must be >= 0")

    # beat parameters in frames at the rate the beats are computed on
    def frames(self, value: float, fps: float) -> float:
        return value if self.beat_unit == "frames" else value * fps

    def settings(self) -> dict[str, Any]:
        return asdict(self)

    def feature_settings(self, role: str) -> dict[str, Any]:
        """The settings one sequence's cached features depend on, for ``role`` (``pred`` or ``reference``)."""
        return {**{k: getattr(self, k) for k in _FEATURE_SETTINGS}, "role": role}


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("bailando", "solo", "Bailando (CVPR 2022) on AIST++: metrics_new.py + beat_align_score.py",
             data_fps=60.0, legacy=True, crop_frames=1200, crop_reference=False, reference_set="all"),
    Protocol("pasdeux-solo", "solo", "pasdeux corrected: fixed features, 60 fps clock, 20 s crops on both sets",
             data_fps=60.0, legacy=False, resample_fps=60.0, crop_frames=1200, crop_reference=True,
             reference_set="all", beat_unit="seconds", bas_sigma=3 / 60, bas_smoothing=5 / 60,
             fact_sigma=3 / 60, fact_order=10 / 60, drop_constant_dims=True),
    Protocol("duolando", "duet", "Duolando (ICLR 2024) on DD100: metrics.py, metrics_duet.py, "
             "metric_footskating_dur.py", data_fps=30.0, legacy=True, reference_set="all"),
    Protocol("pasdeux-duet", "duet", "pasdeux corrected: fixed features at the data's frame rate, beats in seconds",
             data_fps=30.0, legacy=False, reference_set="all", beat_unit="seconds", bas_sigma=3 / 60,
             bas_smoothing=5 / 60, fact_sigma=3 / 60, fact_order=10 / 60, drop_constant_dims=True),
    Protocol("dancecamera3d", "camera", "DanceCamera3D (CVPR 2024) on DCM: scripts/evaluate.py",
             data_fps=30.0, reference_set="test", aspect=None),
    Protocol("pasdeux-camera", "camera", "pasdeux corrected: shot features on the real 16:9 frame",
             data_fps=30.0, reference_set="test", aspect=16.0 / 9.0, camera_frame_time=None,
             drop_constant_dims=True),
)}
DEFAULT_PROTOCOL = {"solo": "bailando", "duet": "duolando", "camera": "dancecamera3d"}


def get_protocol(name: str | None, task: str) -> Protocol:
    """The named protocol (the task's reference protocol when ``name`` is None), checked against the task."""
    if task not in TASKS:
        raise InputError(None, f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    name = name or DEFAULT_PROTOCOL[task]
    if name not in PROTOCOLS:
        raise InputError(None, f"unknown protocol {name!r}", f"use one of {', '.join(PROTOCOLS)}")
    p = PROTOCOLS[name]
    if p.task != task:
        fits = ", ".join(n for n, q in PROTOCOLS.items() if q.task == task)
        raise InputError(None, f"protocol {name!r} is for the {p.task} task, not {task}", f"use one of {fits}")
    return p
