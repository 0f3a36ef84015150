"""``python cli.py demo``: the foundation pipeline end to end on data it makes itself.

It writes a short song (a 120 BPM drum-and-bass loop) and a beat-synchronous SMPL dance in the AIST++
layout, then runs what a user runs: reads the dataset back, extracts music features with beats,
converts the dance to BVH and npz, and renders a skeleton preview with the song muxed in. Later
stages extend the demo (synthetic corpus, tokenizers, generation).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

SR = 30720
BPM = 120.0
SECONDS = 8.0
SEQ_NAME = "gBR_sBM_cAll_d04_mBR4_ch01"  # AIST++ naming: break, basic, dancer 4, music mBR4 (120 BPM)


def demo_song(seconds: float = SECONDS, bpm: float = BPM, sr: int = SR) -> np.ndarray:
    """A drum-and-bass loop: kick on every beat, snare on 2 and 4, hi-hats on eighths, a bass line."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    beat = 60.0 / bpm
    rng = np.random.default_rng(0)
    for k in range(int(seconds / beat * 2)):
        start = int(k * beat / 2 * sr)
        length = min(int(0.25 * sr), n - start)
        if length <= 0:
            break
        tt = np.arange(length) / sr
        if k % 2 == 0:  # kick: a falling sine
            y[start:start + length] += 0.9 * np.sin(2 * np.pi * (50 + 100 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 12)
        if k % 4 == 2:  # snare: noise burst on beats 2 and 4
            y[start:start + length] += 0.4 * rng.normal(size=length) * np.exp(-tt * 25)
        y[start:start + length] += 0.12 * rng.normal(size=length) * np.exp(-tt * 80)  # hi-hat
    bass_notes = [55.0, 55.0, 65.4, 49.0]
    note = (t // (2 * beat)).astype(int) % len(bass_notes)
    y += 0.25 * np.sin(2 * np.pi * np.take(bass_notes, note) * t) * (0.6 + 0.4 * np.cos(np.pi * t / beat) ** 2)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def demo_dance(seconds: float = SECONDS, bpm: float = BPM, fps: float = 60.0):
    """A beat-synchronous SMPL dance: knee bounces and arm swings whose speed minima fall on beats."""
    T = int(round(seconds * fps))
    t = np.arange(T) / fps
    phase = 2 * np.pi * t * bpm / 60.0  # one cycle per beat
    rot = np.zeros((T, 24, 3))
    bounce = 0.5 * (1 - np.cos(phase))  # 0 on the beat, speed 0 there too
    rot[:, 4, 0] = rot[:, 5, 0] = 0.5 * bounce  # knees bend between beats
    rot[:, 1, 0] = rot[:, 2, 0] = -0.3 * bounce  # hips flex with them
    swing = np.cos(phase / 2)  # arms swing once every two beats, turning on the beats
    rot[:, 16, 2] = -1.1 + 0.5 * swing
    rot[:, 17, 2] = 1.1 + 0.5 * swing
    rot[:, 18, 1] = 0.6 * (1 + swing)
    rot[:, 19, 1] = -0.6 * (1 - swing)
    rot[:, 0, 1] = 0.35 * np.sin(2 * np.pi * t / (8 * 60.0 / bpm))  # slow body turn
    root = np.zeros((T, 3))
    root[:, 1] = -0.06 * bounce
    root[:, 0] = 0.25 * np.sin(2 * np.pi * t / (4 * 60.0 / bpm))
    return rot, root


def run_demo(out: str | Path) -> dict:
    import soundfile as sf

    from data.datasets.aistpp import AISTPPDataset, save_aistpp_pkl
    from data.motion import Motion, save_motion
    from data.music import compute_features
    from data.render import render_video

    out = Path(out)
    started = time.perf_counter()

    # 1. A tiny corpus in the AIST++ layout.
    corpus = out / "aistpp"
    (corpus / "splits").mkdir(parents=True, exist_ok=True)
    (corpus / "all_musics").mkdir(parents=True, exist_ok=True)
    sf.write(corpus / "all_musics" / "mBR4.wav", demo_song(), SR)
    rot, root = demo_dance()
    save_aistpp_pkl(Motion.from_smpl("smpl24", rot, root, 60.0), corpus / "motions" / f"{SEQ_NAME}.pkl")
    for split in ("train", "val", "test"):
        (corpus / "splits" / f"crossmodal_{split}.txt").write_text(SEQ_NAME + "\n" if split == "test" else "")
    (corpus / "ignore_list.txt").write_text("")
    print(f"[1/4] wrote an AIST++-layout corpus under {corpus}")

    # 2. Read it back as a user would, and extract music features with beats.
    dataset = AISTPPDataset(corpus)
    name = dataset.sequences("test")[0]
    motion = dataset.load(name)
    song = dataset.music_path(name)
    feats = compute_features(song, fps=60, feature_set="bailando438")
    beat_frames = feats.beats
    true_beats = np.arange(0, SECONDS, 60.0 / BPM) * 60
    err = np.abs(beat_frames[:, None] - true_beats[None]).min(axis=1)
    print(f"[2/4] {name}: {motion.num_frames} frames at {motion.fps:g} fps; features {feats.features.shape}, "
          f"{len(beat_frames)} beats (median distance to the true beats {np.median(err):.1f} frames)")

    # 3. Export for animation tools.
    bvh = save_motion(motion, out / f"{name}.bvh", "bvh")
    npz = save_motion(motion, out / f"{name}.npz", "npz")
    print(f"[3/4] exported {bvh} and {npz}")

    # 4. A preview with the song.
    video = render_video([motion], out / f"{name}.mp4", music=song, title=f"pasdeux demo: {name}")
    print(f"[4/4] preview {video}")

    summary = {"sequence": name, "frames": motion.num_frames, "features": list(feats.features.shape),
               "beats": len(beat_frames), "median_beat_error_frames": float(np.median(err)),
               "bvh": str(bvh), "npz": str(npz), "video": str(video),
               "seconds": round(time.perf_counter() - started, 1)}
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=1))
    print(f"done in {summary['seconds']} s; summary in {out / 'demo_summary.json'}")
    return summary
