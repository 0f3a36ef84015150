"""Benchmark: pasdeux's vectorised kinetic + geometric features vs a per-frame Python loop.

The loop baseline below is the straightforward implementation of the same definitions (the shape of
the AIST++ API / Bailando feature code: one Python iteration per frame, joint and window offset),
written for this benchmark. Both run in this process on the same 40 sequences of 1200 frames (the
Bailando protocol's generated set: 40 test songs, cropped to 20 s at 60 fps), with the reference
quirks on (``legacy=True``), and must agree before any time is reported.

    python bench/bench_metrics.py [--sequences 40] [--frames 1200] [--loop-sequences N] [--out FILE.json]

``--loop-sequences`` times the loop on fewer sequences and scales to all of them (the full loop takes
minutes); the default runs it on all 40.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from metrics.features import (  # noqa: E402
    GEOMETRIC_FEATURES, MINUS_Y_UNIT, REFERENCE_GEOMETRIC_TIME_PER_FRAME, REFERENCE_KINETIC_FRAME_TIME,
    SLIDING_WINDOW, Y_MIN, Y_UNIT, ZERO, geometric_features, kinetic_features, template_body_scales, zero_start,
)


# --------------------------------------------------------------------------------------------------
# The per-frame loop baseline (same definitions, one frame at a time)
# --------------------------------------------------------------------------------------------------
def loop_kinetic_features(positions: np.ndarray, frame_time: float = REFERENCE_KINETIC_FRAME_TIME,
                          window: int = SLIDING_WINDOW, precedence_bug: bool = True) -> np.ndarray:
    """Kinetic features, one joint, frame and window offset at a time."""
    T, J, _ = positions.shape
    out = []
    for joint in range(J):
        h_sum = v_sum = e_sum = 0.0
        for i in range(1, T):
            vel = np.zeros(3)
            n = 0
            for j in range(-window, window + 1):
                if i + j - 1 < 0 or i + j >= T:
                    continue
                vel += positions[i + j, joint] - positions[i + j - 1, joint]
                n += 1
            vel = vel / (n * frame_time)
            h_sum += np.linalg.norm(vel[[0, 2]]) ** 2
            v_sum += np.linalg.norm(vel[[1]]) ** 2
            acc = np.zeros(3)
            n = 0
            for j in range(-window, window + 1):
                if i + j - 1 < 0 or i + j + 1 >= T:
                    continue
                forward = (positions[i + j + 1, joint] - positions[i + j, joint]) / frame_time
                if precedence_bug:
                    backward = positions[i + j, joint] - positions[i + j - 1, joint] / frame_time
                else:
                    backward = (positions[i + j, joint] - positions[i + j - 1, joint]) / frame_time
                acc += (forward - backward) / frame_time
                n += 1
            e_sum += np.linalg.norm(acc / n)
        out += [h_sum / (T - 1.0), v_sum / (T - 1.0), e_sum / (T - 1.0)]
    return np.array(out)


def _point(frame: np.ndarray, j: int) -> np.ndarray:
    if j == ZERO:
        return np.zeros(3)
    if j == Y_UNIT:
        return np.array([0.0, 1.0, 0.0])
    if j == MINUS_Y_UNIT:
        return np.array([0.0, -1.0, 0.0])
    if j == Y_MIN:
        return np.array([0.0, min(p[1] for p in frame), 0.0])
    return frame[j]


def loop_geometric_features(positions: np.ndarray,
                            time_per_frame: float = REFERENCE_GEOMETRIC_TIME_PER_FRAME) -> np.ndarray:
    """The 32 relations with the reference quirks, one frame and one relation at a time."""
    scales = template_body_scales()
    T = positions.shape[0]
    rows = []
    for t in range(1, T):
        cur, prev = positions[t], positions[t - 1]
        row = []
        for rel in GEOMETRIC_FEATURES:
            thr = rel.factor * scales[rel.scale] if rel.scale is not None else 0.0
            p = [_point(cur, k) for k in rel.joints]
            with np.errstate(divide="ignore", invalid="ignore"):
                if rel.kind == "plane":
                    normal = np.cross(p[2] - p[0], p[1] - p[0])
                    row.append(np.dot(normal, p[3] - p[0]) / np.linalg.norm(normal) > thr)
                elif rel.kind == "nplane":
                    normal = p[1] - p[0]
                    row.append(np.dot(normal, p[3] - p[2]) / np.linalg.norm(normal) > thr)
                elif rel.kind == "angle":
                    u, w = p[1] - p[0], p[3] - p[2]
                    angle = np.degrees(np.arccos(np.dot(u, w) / (np.linalg.norm(u) * np.linalg.norm(w))))
                    row.append(rel.angle_range[0] < angle < rel.angle_range[1])
                elif rel.kind == "fast":
                    k = rel.joints[0]
                    row.append(np.linalg.norm(cur[k] - prev[k]) / time_per_frame > thr)
                elif rel.kind == "nmove":
                    j1, j2, j3, j4 = rel.joints
                    vel = (cur[j4] - cur[j1]) - (prev[j4] - prev[j1])
                    normal = np.cross(cur[j3] - cur[j1], cur[j2] - cur[j1])
                    row.append(np.dot(vel, normal) / np.linalg.norm(normal) / time_per_frame > thr)
                else:  # move, with the reference's ignored fourth joint
                    j1, j2, j3, _ = rel.joints
                    vel = (cur[j3] - cur[j1]) - (prev[j3] - prev[j1])
                    direction = cur[j2] - cur[j1]
                    row.append(np.dot(vel, direction) / np.linalg.norm(direction) / time_per_frame > thr)
        rows.append(row)
    return np.array(rows, dtype=np.float64).mean(axis=0)


# --------------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------------
def make_sequences(n: int, frames: int, seed: int = 0) -> list[np.ndarray]:
    """Dance-like SMPL joint tracks: FK of smooth random joint rotations and a wandering root, 60 fps."""
    from data.motion import Motion

    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 60.0
    out = []
    for _ in range(n):
        freq = rng.uniform(0.5, 2.5, size=(1, 24, 3))
        phase = rng.uniform(0, 2 * np.pi, size=(1, 24, 3))
        rot = 0.35 * np.sin(2 * np.pi * freq * t[:, None, None] + phase)
        root = np.cumsum(rng.normal(scale=0.004, size=(frames, 3)), axis=0)
        out.append(zero_start(Motion.from_smpl("smpl24", rot, root, 60.0).joints))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=40)
    ap.add_argument("--frames", type=int, default=1200)
    ap.add_argument("--loop-sequences", type=int, default=None,
                    help="time the loop on this many sequences and scale (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="also write the figures as json")
    args = ap.parse_args(argv)

    seqs = make_sequences(args.sequences, args.frames)
    n_loop = args.sequences if args.loop_sequences is None else min(args.loop_sequences, args.sequences)

    t0 = time.perf_counter()
    ours = [(kinetic_features(s, 60.0, legacy=True), geometric_features(s, 60.0, legacy=True)) for s in seqs]
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    loop = [(loop_kinetic_features(s), loop_geometric_features(s)) for s in seqs[:n_loop]]
    t_loop_measured = time.perf_counter() - t0
    t_loop = t_loop_measured * args.sequences / n_loop

    k_err = max(float(np.max(np.abs(a[0] - b[0]) / np.maximum(np.abs(b[0]), 1e-12))) for a, b in zip(ours, loop))
    g_err = max(float(np.max(np.abs(a[1] - b[1]))) for a, b in zip(ours, loop))
    if k_err > 1e-9 or g_err > 0:
        print(f"MISMATCH: kinetic max rel err {k_err:.3g}, geometric max abs err {g_err:.3g}", file=sys.stderr)
        return 1

    figures = {
        "sequences": args.sequences, "frames": args.frames, "features": "kinetic 72 + geometric 32 (legacy)",
        "ours_s": t_ours, "loop_s": t_loop, "loop_measured_on": n_loop, "ratio": t_loop / t_ours,
        "kinetic_max_rel_err": k_err, "geometric_max_abs_err": g_err,
    }
    print(f"features for {args.sequences} sequences x {args.frames} frames (kinetic 72 + geometric 32, legacy)")
    print(f"  vectorised (metrics.features): {t_ours:8.3f} s  ({1e3 * t_ours / args.sequences:.1f} ms/seq)")
    scaled = "" if n_loop == args.sequences else f"  (measured on {n_loop}, scaled)"
    print(f"  per-frame Python loop:         {t_loop:8.3f} s  ({1e3 * t_loop / args.sequences:.0f} ms/seq){scaled}")
    print(f"  ratio: {t_loop / t_ours:.0f}x faster;  agreement: kinetic rel err {k_err:.1e}, "
          f"geometric abs err {g_err:.1e}")
    if args.out is not None:
        from data.io import atomic_output

        with atomic_output(args.out) as tmp:
            tmp.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
