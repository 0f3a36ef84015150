"""The evaluation report: the printed table (version + protocol header, one row per metric, notes) and
the json form of the result (NaN written as null)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from metrics.protocols import Protocol


def protocol_lines(p: Protocol) -> list[str]:
    """The protocol in words: every setting that changes a number, one line per topic."""
    lines = [f"{p.summary}"]
    if p.task in ("solo", "duet"):
        quirks = ("kinetic: acceleration precedence bug, frame time 1/60 s; geometric: 1/120 s velocities, "
                  "move ignores j4, SMPL-template thresholds") if p.legacy else \
            "corrected: true acceleration and frame time, move uses j4, thresholds from the dancer's own body"
        lines.append(f"features: legacy={p.legacy} ({quirks})")
        rs = (f"resampled to {p.resample_fps:g} fps" if p.resample_fps
              else f"data frame rate (protocol: {p.data_fps:g} fps)")
        crop = "full length" if p.crop_frames is None else (
            f"first {p.crop_frames} frames of {'both sets' if p.crop_reference else 'generated sequences'}")
        lines.append(f"preprocessing: {rs}; {crop}; first-frame root at origin={p.zero_start}; z-score with "
                     "reference statistics")
        unit = "frames" if p.beat_unit == "frames" else "s"
        lines.append(f"beats: BAS σ={p.bas_sigma:.4g} {unit}, speed smoothing σ={p.bas_smoothing:.4g} {unit}; FACT "
                     f"σ={p.fact_sigma:.4g} {unit}, minima order {p.fact_order:.4g} {unit}; "
                     f"{'full-length' if p.beats_before_crop else 'cropped'} sequences; PFC at {p.pfc_fps:g} fps")
    else:
        ft = f"Δ={p.camera_frame_time:.4g} s" if p.camera_frame_time else "Δ=1/fps"
        frustum = "square frustum (vertical fov both ways)" if p.aspect is None else f"{p.aspect:.4g}:1 frame"
        lines.append(f"camera kinetic: {p.chunk_frames}-frame chunks, ±2 frame window, {ft}; shot features and "
                     f"FID_s on a {frustum}; z-score with reference statistics")
    which = "all sequences" if p.reference_set == "all" else "the test split"
    lines.append(f"reference set: {which} of a dataset root (a plain folder is taken whole); "
                 f"constant dimensions {'dropped' if p.drop_constant_dims else 'kept'}")
    return lines


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return "n/a"
    if abs(v) < 5e-5:
        return "0.0000"  # FID of identical sets comes out as ±1e-9 from sqrtm; the json keeps the raw value
    return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"


def format_table(result: dict[str, Any]) -> str:
    """The printed report: version + protocol header, one row per metric, notes."""
    p = result["protocol"]
    out = [f"pasdeux metrics {result['metrics_version']}  task={result['task']}  protocol={p['name']}"]
    out += [f"  {line}" for line in result["protocol_lines"]]
    pred, ref = result["pred"], result["reference"]
    beats = lambda s: f", beats for {s['with_beats']}/{s['count']}" if "with_beats" in s else ""  # noqa: E731
    out.append(f"  pred: {pred['count']} from {pred['dir']} ({pred['kind']}{beats(pred)})")
    out.append(f"  reference: {ref['count']} from {ref['dir']} ({ref['kind']}{beats(ref)})")
    c = result["cache"]
    out.append(f"  cache: {c['hits']} hit(s), {c['computed']} computed ({c['dir'] or 'disabled'})")
    width = max(len(k) for k in result["metrics"]) + 2
    out.append("")
    out.append(f"  {'metric':<{width}}{'pred':>12}{'reference':>12}")
    for name, row in result["metrics"].items():
        out.append(f"  {name:<{width}}{_fmt(row['pred']):>12}{_fmt(row['reference']):>12}")
    for note in result["notes"]:
        out.append(f"  note: {note}")
    return "\n".join(out)


def nan_to_none(x: Any) -> Any:
    """``x`` with every non-finite float (and numpy scalar) made json-safe: NaN and infinity -> ``None``."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nan_to_none(v) for v in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return nan_to_none(x.item())
    return x
