"""Held-out figures of a trained solo GPT on the synthetic corpus, beside the references that say what
they mean.

For every test sequence of the corpus's AIST++ layout (songs the GPT never trained on), dances are
written as ``<sequence>.npz`` into one folder per set and scored by ``cli.py evaluate``'s code
(:func:`metrics.evaluate.run_evaluate`, Bailando's protocol, BAS against the corpus's ground-truth
beat times):

* ``truth``: the test dances themselves;
* ``tokenized``: the truth through the GPT's tokenizer (the ceiling its tokens allow);
* ``generated``: the GPT's dances to each song, no genre given (what a user's song gets);
* ``generated+genre``: the same with the song's genre label;
* ``other_song``: the GPT dancing to another test song's music, scored against this song's beats
  (does it listen? BAS should fall to the chance level);
* ``random_tokens``: uniformly random tokens decoded (what the tokenizer alone gives).

Each set also gets the accuracy of a motion->genre classifier (logistic regression on pooled
kinematics, :func:`metrics.corpus_checks.motion_features`, trained on the training dances): does
the dance move like the song's genre?

    python bench/gpt_report.py --synth demo_out/synth --ckpt demo_out/checkpoints/solo_gpt/last.ckpt
        [--out DIR] [--seed 0] [--temperature 1.0] [--top-p 0.95] [--top-k 0]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data.datasets.aistpp import AISTPPReader, parse_sequence_name  # noqa: E402
from data.formats import save_motion  # noqa: E402
from gpt.pretrained import SoloDancer  # noqa: E402
from gpt.sampling import SamplingConfig  # noqa: E402
from metrics.corpus_checks import LogisticRegression, motion_features  # noqa: E402
from metrics.evaluate import run_evaluate  # noqa: E402

SETS = ("truth", "tokenized", "generated", "generated+genre", "other_song", "random_tokens")


def genre_classifier(reader: AISTPPReader, fps: float) -> LogisticRegression:
    names = reader.sequences("train")
    X = np.stack([motion_features(reader.load(n).joints, fps) for n in names])
    y = np.array([parse_sequence_name(n).genre for n in names])
    return LogisticRegression().fit(X, y)


def other_song(names: list[str]) -> dict[str, str]:
    """For each sequence, the next test sequence whose song differs."""
    music = {n: parse_sequence_name(n).music_id for n in names}
    out = {}
    for i, n in enumerate(names):
        for k in range(1, len(names)):
            m = names[(i + k) % len(names)]
            if music[m] != music[n]:
                out[n] = m
                break
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", type=Path, default=ROOT / "demo_out" / "synth")
    parser.add_argument("--ckpt", type=Path, required=True, help="solo GPT checkpoint")
    parser.add_argument("--out", type=Path, default=ROOT / "demo_out" / "gpt_report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = args.synth / "aistpp"
    reader = AISTPPReader(root)
    dancer = SoloDancer.from_checkpoint(args.ckpt)
    names = reader.sequences("test")
    truth = {n: reader.load(n) for n in names}
    music = {n: dancer.music_features(reader.music_path(n)).features for n in names}
    sampling = SamplingConfig(args.temperature, args.top_k, args.top_p)
    swap = other_song(names)
    g = lambda: torch.Generator().manual_seed(args.seed)  # noqa: E731  the same draws for every set
    dances: dict[str, dict] = {}
    for s in args.sets:
        t = time.perf_counter()
        if s == "truth":
            dances[s] = truth
        elif s == "tokenized":
            dances[s] = {n: dancer.tokenizer.reconstruct(m) for n, m in truth.items()}
        elif s in ("generated", "generated+genre", "other_song"):
            src = [music[swap[n]] if s == "other_song" else music[n] for n in names]
            genres = [parse_sequence_name(n).genre if s == "generated+genre" else None for n in names]
            out = dancer.dance(src, sampling, genres=genres, generator=g(), names=names)
            # other_song: the dance is as long as the other song (every quick-corpus song is 20 s).
            dances[s] = {n: d.motion for n, d in zip(names, out)}
        else:
            gen = torch.Generator().manual_seed(args.seed)
            dances[s] = {}
            for n in names:
                N = math.ceil(truth[n].num_frames / dancer.stride)
                tokens = {p: torch.randint(0, dancer.config.codebook_size, (N,), generator=gen) for p in dancer.config.parts}
                dances[s][n] = dancer.decode(tokens, truth[n].num_frames, name=n)
        print(f"{s}: {len(dances[s])} dances ({time.perf_counter() - t:.1f} s)", flush=True)
    clf = genre_classifier(reader, dancer.fps)
    report: dict = {"checkpoint": str(args.ckpt), "test_sequences": len(names),
                    "sampling": {"temperature": sampling.temperature, "top_k": sampling.top_k, "top_p": sampling.top_p},
                    "load_average_start": round(os.getloadavg()[0], 2)}
    rows = {}
    for s, ds in dances.items():
        folder = args.out / s
        folder.mkdir(parents=True, exist_ok=True)
        for n, m in ds.items():
            m.music = str(reader.music_path(n))  # BAS against this sequence's song
            m.name = n
            save_motion(m, folder / f"{n}.npz", "npz")
        scores = run_evaluate("solo", folder, root, beats=root / "groundtruth" / "music", out=args.out / f"{s}.json")
        met = scores["metrics"]
        X = np.stack([motion_features(m.joints, m.fps) for m in ds.values()])
        acc = float(np.mean(clf.predict(X) == np.array([parse_sequence_name(n).genre for n in ds])))
        rows[s] = {"BAS": met["BAS"]["pred"], "FID_k": met["FID_k"]["pred"], "FID_g": met["FID_g"]["pred"],
                   "Div_k": met["Div_k"]["pred"], "Div_g": met["Div_g"]["pred"], "PFC": met["PFC"]["pred"],
                   "genre_accuracy": round(acc, 3)}
        rows[s]["Div_k_reference"], rows[s]["Div_g_reference"] = met["Div_k"]["reference"], met["Div_g"]["reference"]
    report["sets"] = rows
    if "truth" in rows:
        for s in rows:
            rows[s]["BAS_ratio_to_truth"] = round(rows[s]["BAS"] / rows["truth"]["BAS"], 3)
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(f"\n{'set':18s} {'BAS':>7s} {'/truth':>7s} {'FID_k':>8s} {'FID_g':>8s} {'Div_k':>7s} {'Div_g':>7s} "
          f"{'PFC':>7s} {'genre':>6s}")
    for s, r in rows.items():
        fmt = lambda v, w=8, p=3: f"{v:{w}.{p}f}" if isinstance(v, (int, float)) else f"{'-':>{w}s}"  # noqa: E731
        print(f"{s:18s} {fmt(r['BAS'], 7, 4)} {fmt(r.get('BAS_ratio_to_truth'), 7)} {fmt(r['FID_k'], 8, 2)} "
              f"{fmt(r['FID_g'], 8, 2)} {fmt(r['Div_k'], 7, 2)} {fmt(r['Div_g'], 7, 2)} {fmt(r['PFC'], 7, 2)} "
              f"{fmt(r['genre_accuracy'], 6, 2)}")
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"\n{args.out / 'report.json'}")
    return report


if __name__ == "__main__":
    main()
