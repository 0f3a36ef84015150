"""The camera model on held-out synthetic dances, beside baselines, with DanceCamera3D's metrics.

For every piece of the DCM split (test by default) the trained model films the dance to its song,
and three baselines film it too:

* ``frontal``  a fixed camera in front of the dance: on the dancer's mean facing, at the mean waist,
               far enough for the whole travel to fit the 16:9 frame, fov 30;
* ``pelvis``   a camera that tracks the pelvis: the frontal camera's offset kept from the (smoothed)
               waist of every frame;
* ``no-dance`` the model with the dance dropped (the music-only pass it was trained with).

Every camera and the ground truth are scored by ``metrics`` (``cli.py evaluate --task camera``, the
``dancecamera3d`` protocol and the corrected ``pasdeux-camera`` one): FID_k / Div_k (kinetic), FID_s
/ Div_s (shots), DMR (dancer missing rate) and LCD (limb capture difference against the true
camera); the model's cameras also go through the keyframe fitter (keys per minute, largest error).

    python bench/camera_report.py --ckpt demo_out/checkpoints/camera/last.ckpt --dcm demo_out/synth/dcm
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camera.keyframes import KeyframeConfig, fit_keyframes, keyframe_report  # noqa: E402
from camera.pretrained import CameraDirector  # noqa: E402
from data.camera import CameraTrack, dcm_to_metres, save_camera_npz  # noqa: E402
from data.datasets.dcm import DCMReader, read_motion_json  # noqa: E402
from metrics.evaluate import run_evaluate  # noqa: E402

FRONTAL_FOV = 30.0
HIP_BONES = (8, 12)  # 左足, 右足: the body's x axis


def _look_at(eye: np.ndarray, target: np.ndarray, fov: float, distance: float) -> CameraTrack:
    """A per-frame camera at ``eye`` looking at ``target`` (T, 3) DCM frame, upright."""
    forward = target - eye
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    return CameraTrack.from_frame(eye, right, np.cross(right, forward), forward, np.full(len(eye), fov),
                                  distance=-distance)


def baseline_camera(joints: np.ndarray, kind: str) -> CameraTrack:
    """The ``frontal`` or ``pelvis`` camera of one dance (joints (T, 60, 3) DCM units)."""
    waist = joints[:, 0]
    hips = joints[:, HIP_BONES[0]] - joints[:, HIP_BONES[1]]  # the body's left
    facing = np.cross(hips, [0.0, 1.0, 0.0]) * -1.0  # left x up = backwards, so negate: forward
    facing = facing.mean(axis=0)
    facing[1] = 0.0
    facing /= max(np.linalg.norm(facing), 1e-9)
    centre = waist.mean(axis=0)
    travel = np.abs(waist - centre).max(axis=0)[[0, 2]].max()
    height = joints[:, :, 1].max() - joints[:, :, 1].min()
    half = np.tan(np.radians(FRONTAL_FOV) / 2)
    dist = max((0.6 * height + 0.1 * travel) / half, (travel + 0.3 * height) / (half * 16 / 9)) + travel
    T = len(joints)
    if kind == "frontal":
        target = np.repeat(centre[None], T, axis=0)
    elif kind == "pelvis":
        target = gaussian_filter1d(waist, sigma=10.0, axis=0, mode="nearest")
        dist = (0.6 * height) / half  # framing the body only: the camera moves with it
    else:
        raise ValueError(kind)
    eye = target + dist * facing + np.array([0.0, 0.1 * height, 0.0])
    return _look_at(eye, target, FRONTAL_FOV, dist)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--dcm", type=Path, required=True, help="DCM root (synthetic or real)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--steps", type=int, nargs="+", default=[20])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the figures as json here")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    director = CameraDirector.from_checkpoint(args.ckpt)
    reader = DCMReader(args.dcm)
    pieces = reader.sequences(args.split)
    results: dict[str, dict] = {}
    keyframes: dict[str, list] = {}
    timing: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        methods = [f"model ({s} steps)" for s in args.steps] + ["no-dance", "frontal", "pelvis", "truth"]
        folders = {m: Path(tmp) / f"m{i}" for i, m in enumerate(methods)}
        for f in folders.values():
            f.mkdir()
        frames = 0
        for piece in pieces:
            joints = read_motion_json(reader.motion_path(piece))  # (T, 60, 3) DCM units
            truth = reader.load_camera(piece)
            music = director.music_features(reader.audio_path(piece)).features
            T = min(len(joints), truth.num_frames, len(music))
            joints, truth = joints[:T], truth.slice(0, T)
            frames += T
            tracks = {"frontal": baseline_camera(joints, "frontal"), "pelvis": baseline_camera(joints, "pelvis"),
                      "truth": truth}
            for s in args.steps:
                t0 = time.perf_counter()
                tracks[f"model ({s} steps)"] = director.film(joints, music, steps=s,
                                                             generator=torch.Generator().manual_seed(args.seed))
                timing[f"model ({s} steps)"] = timing.get(f"model ({s} steps)", 0.0) + time.perf_counter() - t0
            tracks["no-dance"] = director.film(joints, music, steps=args.steps[0], guidance_dance=0.0,
                                               guidance_music=0.0, use_dance=False,
                                               generator=torch.Generator().manual_seed(args.seed))
            for m, tr in tracks.items():
                assert tr.num_frames == T, (m, tr.num_frames, T)  # frames out = frames in
                save_camera_npz(tr, folders[m] / f"{piece}.npz", joints=dcm_to_metres(joints), skeleton="mmd60")
                if m.startswith("model") or m == "truth":
                    rep = keyframe_report(tr, fit_keyframes(tr, KeyframeConfig()), KeyframeConfig())
                    keyframes.setdefault(m, []).append(rep)
        for m, folder in folders.items():
            results[m] = {}
            for proto in ("dancecamera3d", "pasdeux-camera"):
                r = run_evaluate("camera", folder, args.dcm, protocol=proto, use_cache=False)
                results[m][proto] = {k: v["pred"] for k, v in r["metrics"].items()}
    minutes = frames / 30.0 / 60.0
    print(f"{len(pieces)} held-out pieces ({args.split}), {frames} frames ({frames / 30:.0f} s)")
    cols = ["FID_k", "Div_k", "FID_s", "Div_s", "DMR (square)", "LCD (square)", "DMR (16:9)", "LCD (16:9)"]
    print("| camera | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for m in results:
        a, b = results[m]["dancecamera3d"], results[m]["pasdeux-camera"]
        row = [a["FID_k"], a["Div_k"], a["FID_s"], a["Div_s"], a["DMR (square)"], a["LCD (square)"],
               b["DMR (16:9)"], b["LCD (16:9)"]]
        print(f"| {m} | " + " | ".join("-" if v is None else f"{v:.3g}" for v in row) + " |")
    for m, reps in keyframes.items():
        keys = sum(r["num_keys"] for r in reps)
        print(f"{m}: sparse VMD {keys / minutes:.0f} keys per minute; max eye error "
              f"{max(r['max_eye_error'] for r in reps):.3g} MMD units, view {max(r['max_view_error_deg'] for r in reps):.3g} deg")
    for m, t in timing.items():
        print(f"{m}: {t / minutes:.1f} s to film one minute (3 guidance passes per step, batched)")
    if args.out:
        args.out.write_text(json.dumps({"results": results, "keyframes": keyframes, "timing_s": timing,
                                        "frames": frames}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
