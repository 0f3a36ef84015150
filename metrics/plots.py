"""Beat-alignment plots: a motion's kinematic speed curve, its kinematic beats and the music beats, with
the BAS they give, as a PNG.

:func:`beat_alignment_plot` draws exactly what :func:`metrics.beat.bailando_bas` scores, taken from
:func:`beat_trace` (which calls :mod:`metrics.beat` and nothing else):

* the curve is :func:`metrics.beat.bailando_speed_curve` (mean joint speed over the step from frame t
  to t+1, Gaussian-smoothed with σ = 5 frames), shown in m/s (times ``fps``; the minima do not move);
* the dots are its strict local minima, :func:`metrics.beat.bailando_motion_beats`;
* the vertical lines are the music beats BAS scores, :func:`metrics.beat.bailando_music_beats` (those
  at or past the speed curve's end are dropped, as the reference does);
* the title holds the BAS (σ = 3 frames).

Music beats are **frame indices at the motion's frame rate**, as :func:`metrics.beat.bailando_bas`
takes them (from beat times in seconds: ``np.round(beat_times * fps)``); non-integer values are refused
so that seconds passed by mistake do not draw a plausible but wrong plot. A frame index f (or speed
curve index t) is drawn at ``f / fps`` seconds.

With ``leader`` (a duet: ``joints`` is the follower), a second panel shows the follower's curve beside
the leader's, the leader's kinematic beats as vertical lines and the follower's as dots, with the beat
echo degree (:func:`metrics.duet.beat_echo_degree`: the same score with the leader's beats in the
music's place).

The figure is drawn on matplotlib's Agg canvas (no pyplot, no display) at 100 dpi, exactly ``size``
pixels, and written through :func:`data.io.atomic_output`. Bad input (wrong shape, NaN, non-positive
fps, non-integer beats) raises :class:`data.errors.InputError` before anything is written.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.errors import InputError, check_finite
from data.io import atomic_output
from metrics.beat import (BAILANDO_SIGMA_FRAMES, BAILANDO_SMOOTHING_FRAMES, bailando_motion_beats, bailando_music_beats,
                          bailando_speed_curve, music_centric_score)

DPI = 100
SINGLE_SIZE = (1200, 400)
"""Default PNG size in pixels (width, height) of the one-panel plot."""
DUET_SIZE = (1200, 720)
"""Default PNG size of the two-panel (duet) plot."""

_CURVE = "#1f5fa8"
_LEADER_CURVE = "#8a8a8a"
_MOTION_BEAT = "#c8452c"
_MUSIC_BEAT = "#e0a030"
_LEADER_BEAT = "#3c9a5f"


@dataclass(frozen=True)
class BeatTrace:
    """What a beat-alignment panel draws, all computed by :mod:`metrics.beat`."""

    speed: np.ndarray
    """(T-1,) smoothed mean joint speed, units of the joints per frame (index t: step t -> t+1)."""
    motion_beats: np.ndarray
    """Kinematic beats: indices into ``speed`` (:func:`metrics.beat.bailando_motion_beats`)."""
    music_beats: np.ndarray
    """The music beats BAS scores: frame indices in ``[0, T-1)``."""
    bas: float
    """Bailando's BAS; NaN when no music beat falls inside the motion."""


def beat_trace(joints: np.ndarray, music_beats, *, sigma: float = BAILANDO_SIGMA_FRAMES,
               smoothing: float = BAILANDO_SMOOTHING_FRAMES) -> BeatTrace:
    """The speed curve, kinematic beats, scored music beats and BAS of ``joints`` (T, J, 3), exactly as
    :func:`metrics.beat.bailando_bas` computes them; ``music_beats`` are frame indices (checked)."""
    return _trace(joints, music_beats, sigma, smoothing, "joints")


def _trace(joints, music_beats, sigma: float, smoothing: float, what: str) -> BeatTrace:
    x = _check_joints(joints, what)
    mb = bailando_music_beats(_check_beats(music_beats), x.shape[0])
    speed = bailando_speed_curve(x, smoothing)
    motion = bailando_motion_beats(x, smoothing)
    return BeatTrace(speed=speed, motion_beats=motion, music_beats=mb, bas=music_centric_score(mb, motion, sigma))


def beat_alignment_plot(joints: np.ndarray, fps: float, music_beats, path: str | os.PathLike, *,
                        title: str = "beat alignment", leader: np.ndarray | None = None,
                        size: tuple[int, int] | None = None, sigma: float = BAILANDO_SIGMA_FRAMES,
                        smoothing: float = BAILANDO_SMOOTHING_FRAMES) -> Path:
    """Write a PNG of ``joints``' (T, J, 3, metres) speed curve, kinematic beats and ``music_beats``
    (frame indices at ``fps``) with the BAS; with ``leader`` (T', J', 3) at the same ``fps``, a second
    panel for the follower against the leader with the BED. ``size`` is (width, height) in pixels
    (default :data:`SINGLE_SIZE` or :data:`DUET_SIZE`). Returns ``path``."""
    fps = _check_fps(fps)
    width, height = _check_size(size or (DUET_SIZE if leader is not None else SINGLE_SIZE))
    trace = beat_trace(joints, music_beats, sigma=sigma, smoothing=smoothing)
    lead = None
    if leader is not None:
        lead = _trace(leader, [], sigma, smoothing, "leader")
        bed = music_centric_score(lead.motion_beats, trace.motion_beats, sigma)

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    panels = 1 if lead is None else 2
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    headline = f"{title} — BAS {_score(trace.bas)}" + ("" if lead is None else f", BED {_score(bed)}")
    fig.suptitle(headline, fontsize=13, x=0.01, y=0.985, ha="left")

    ax = axes[0]
    _beat_lines(ax, trace.music_beats, fps, _MUSIC_BEAT, f"music beats ({trace.music_beats.size})")
    _curve(ax, trace, fps, _CURVE, "speed (smoothed)")
    _dots(ax, trace, fps, f"kinematic beats ({trace.motion_beats.size})")
    ax.set_title(f"BAS {_score(trace.bas)}: Bailando's, the mean over music beats of exp(-d²/2σ²), d = frames to "
                 f"the nearest kinematic beat, σ = {sigma:g} frames at {fps:g} fps; speed smoothed σ = {smoothing:g} "
                 "frames", fontsize=9, loc="left", color="#333333")
    if lead is not None:
        ax = axes[1]
        _beat_lines(ax, lead.motion_beats, fps, _LEADER_BEAT, f"leader's kinematic beats ({lead.motion_beats.size})")
        _curve(ax, lead, fps, _LEADER_CURVE, "leader speed")
        _curve(ax, trace, fps, _CURVE, "follower speed")
        _dots(ax, trace, fps, f"follower's kinematic beats ({trace.motion_beats.size})")
        ax.set_title(f"BED {_score(bed)}: beat echo, the same mean over the leader's kinematic beats, d = frames to "
                     f"the follower's nearest, σ = {sigma:g} frames", fontsize=9, loc="left", color="#333333")
    peaks = [trace.speed.max() * fps] + ([] if lead is None else [max(trace.speed.max(), lead.speed.max()) * fps])
    for ax, top in zip(axes, peaks):
        ax.set_ylabel("mean joint speed (m/s)", fontsize=9)
        ax.set_ylim(0, 1.3 * top if top > 0 else 1.0)  # head room for the legend
        ax.grid(axis="y", color="#e6e6e6", linewidth=0.6)
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9, ncol=4)
    end = max(trace.speed.size, 0 if lead is None else lead.speed.size) / fps
    axes[-1].set_xlim(0, end)
    axes[-1].set_xlabel("time (s)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.96))

    target = Path(path)
    with atomic_output(target) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return target


# --------------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------------
def _curve(ax, trace: BeatTrace, fps: float, colour: str, label: str) -> None:
    t = np.arange(trace.speed.size) / fps
    ax.plot(t, trace.speed * fps, color=colour, linewidth=1.3, label=label, zorder=2)


def _dots(ax, trace: BeatTrace, fps: float, label: str) -> None:
    b = trace.motion_beats
    ax.plot(b / fps, trace.speed[b] * fps, linestyle="none", marker="o", markersize=4.5, color=_MOTION_BEAT,
            label=label, zorder=3)


def _beat_lines(ax, frames: np.ndarray, fps: float, colour: str, label: str) -> None:
    for n, f in enumerate(frames):
        ax.axvline(f / fps, color=colour, linewidth=1.0, alpha=0.8, zorder=1, label=label if n == 0 else None)
    if frames.size == 0:  # keep the legend entry: "music beats (0)" says why BAS is n/a
        ax.plot([], [], color=colour, linewidth=1.0, label=label)


def _score(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.3f}"


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------
def _check_joints(joints, what: str) -> np.ndarray:
    try:
        x = np.asarray(joints, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(None, f"{what} is not a numeric array", "pass joint positions (T, J, 3) in metres") from None
    if x.ndim != 3 or x.shape[-1] != 3 or x.shape[1] < 1:
        raise InputError(None, f"{what} must be (T, J, 3) joint positions, got shape {x.shape}",
                         "pass Motion.joints (frames, joints, xyz)")
    if x.shape[0] < 3:
        raise InputError(None, f"{what} has {x.shape[0]} frame(s); a speed curve with minima needs at least 3",
                         "pass a longer motion")
    check_finite(x, None, what)
    return x


def _check_beats(music_beats) -> np.ndarray:
    try:
        mb = np.asarray(music_beats, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(None, "music_beats is not a numeric array", "pass beat frame indices") from None
    check_finite(mb, None, "music_beats")
    if mb.size and not np.array_equal(mb, np.round(mb)):
        raise InputError(None, "music_beats must be frame indices at the motion's fps, got non-integer values "
                               f"(first {mb[mb != np.round(mb)][0]:g})",
                         "convert beat times in seconds with np.round(beat_times * fps)")
    return mb.astype(np.int64)


def _check_fps(fps) -> float:
    try:
        f = float(fps)
    except (TypeError, ValueError):
        f = float("nan")
    if not (math.isfinite(f) and f > 0):
        raise InputError(None, f"fps must be a positive number, got {fps!r}", "pass the motion's frame rate")
    return f


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise InputError(None, f"size must be (width, height) in pixels, got {size!r}", "pass two integers") from None
    if w < 200 or h < 150 or w > 10000 or h > 10000:
        raise InputError(None, f"size {w}x{h} px is outside 200x150 .. 10000x10000", "pass a sensible size")
    return w, h


__all__ = ["BeatTrace", "beat_trace", "beat_alignment_plot", "SINGLE_SIZE", "DUET_SIZE"]
