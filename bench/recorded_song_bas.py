"""Does a dance model listen to music it was not trained on? BAS on songs made from a real recording.

This machine has no music recordings; the one real recording it has is CPython's 0.3-s guitar pluck
(``test/audiodata/pluck-pcm16.wav`` of the standard library's test data). This script arranges a
recorded sample (that one by default, any short recording with ``--sample``) into songs: the sample on
a beat grid at each ``--bpm``, with random off-beat plucks, pitched along a tune by resampling. Each
song is danced ``--samples`` times with a dance checkpoint (the same code as ``cli.py dance``), and
each dance's BAS (:func:`metrics.beat.bailando_bas`) is taken against its own song's beats (librosa's,
from the features the GPT read) and against another song's: a model that listens scores clearly
higher against its own song.

    python bench/recorded_song_bas.py --ckpt demo_out/checkpoints/solo_rl/last.ckpt [--bpm 112 131]
        [--seconds 40] [--samples 3] [--sample FILE.wav] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import sysconfig
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data.errors import InputError  # noqa: E402
from gpt.pretrained import SoloDancer  # noqa: E402
from gpt.sampling import SamplingConfig  # noqa: E402
from metrics.beat import bailando_bas  # noqa: E402

SONG_SR = 44100
TUNE = (0, 3, 5, 7, 10, 12, -2, 7)  # semitones, one per beat, up an octave every other 8 beats
OFFBEATS = ((0.5, 0.45), (0.75, 0.3))  # (fraction of a beat, gain), each played with probability 0.6


def default_sample() -> Path:
    return Path(sysconfig.get_paths()["stdlib"]) / "test" / "audiodata" / "pluck-pcm16.wav"


def arrange(sample: np.ndarray, bpm: float, seconds: float, seed: int) -> np.ndarray:
    """The recorded ``sample`` (mono, at SONG_SR) played on every beat and some off-beats, pitched
    along :data:`TUNE`; ``(seconds * SONG_SR,)`` float32 peaking at 0.9."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int((seconds + 1) * SONG_SR))
    beat, t, k = 60.0 / bpm, 0.25, 0
    while t < seconds:
        for offset, gain in ((0.0, 1.0), *OFFBEATS):
            if offset and rng.random() < 0.4:
                continue
            semitones = TUNE[(k + int(offset * 4)) % len(TUNE)] + (12 if k % 16 >= 8 else 0)
            note = resample_poly(sample, 100, int(round(100 * 2 ** (semitones / 12))))  # up = shorter
            i = int((t + offset * beat) * SONG_SR)
            n = min(len(note), len(y) - i)
            y[i:i + n] += gain * note[:n]
        t, k = t + beat, k + 1
    y = y[:int(seconds * SONG_SR)]
    return (0.9 * y / np.abs(y).max()).astype(np.float32)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="a solo GPT or RL checkpoint")
    parser.add_argument("--sample", type=Path, default=None, help="a short recording (default: CPython's pluck)")
    parser.add_argument("--bpm", type=float, nargs="+", default=[112.0, 131.0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--samples", type=int, default=3, help="dances per song")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "demo_out" / "recorded_song_bas")
    args = parser.parse_args(argv)
    if len(args.bpm) < 2:
        parser.error("give at least two --bpm values: each song's dances are also scored against another's beats")
    sample_path = args.sample or default_sample()
    if not sample_path.is_file():
        raise SystemExit(f"{sample_path}: no such recording; pass one with --sample FILE.wav")
    data, sr = sf.read(sample_path, dtype="float64", always_2d=True)  # a sample may be shorter than a song
    sample = resample_poly(data.mean(axis=1), SONG_SR, sr)

    args.out.mkdir(parents=True, exist_ok=True)
    dancer = SoloDancer.from_checkpoint(args.ckpt)
    songs, beats, music = [], [], []
    for i, bpm in enumerate(args.bpm):
        path = args.out / f"recorded_{bpm:g}bpm.wav"
        sf.write(path, arrange(sample, bpm, args.seconds, args.seed + i), SONG_SR, subtype="PCM_16")
        features = dancer.music_features(path, cache_dir=args.out / "cache")
        songs.append(path)
        beats.append(features.beats)
        music.append(features.features)
    dances = dancer.dance(music * args.samples, SamplingConfig(), generator=torch.Generator().manual_seed(args.seed))
    rows = []
    for i, path in enumerate(songs):
        other = (i + 1) % len(songs)
        own_bas, other_bas = [], []
        for k in range(args.samples):
            joints = dances[k * len(songs) + i].motion.joints
            T = joints.shape[0]
            own_bas.append(bailando_bas(joints, beats[i][beats[i] < T]))
            other_bas.append(bailando_bas(joints, beats[other][beats[other] < T]))
        rows.append({"song": path.name, "bpm": args.bpm[i], "beats": int(len(beats[i])),
                     "bas_own_beats": round(float(np.mean(own_bas)), 3),
                     "bas_other_song_beats": round(float(np.mean(other_bas)), 3),
                     "per_sample_own": [round(float(v), 3) for v in own_bas],
                     "per_sample_other": [round(float(v), 3) for v in other_bas]})
    report = {"checkpoint": str(args.ckpt), "recording": str(sample_path), "samples": args.samples, "songs": rows}
    print(f"recording: {sample_path} ({len(sample) / SONG_SR:.2f} s), {args.samples} dances per song")
    print("| song | BPM | beats found | BAS, own beats | BAS, another song's beats |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['song']} | {r['bpm']:g} | {r['beats']} | {r['bas_own_beats']:.3f} | {r['bas_other_song_beats']:.3f} |")
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        raise SystemExit(f"error: {e}") from None
