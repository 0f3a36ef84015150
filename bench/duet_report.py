"""Held-out figures of a trained interaction GPT on the synthetic corpus's duets, beside the references
that say what they mean.

For every test duet of the corpus's DD100 layout (duets the GPT never trained on), a follower is made
per set, written with its leader as ``<duet>_00.npz`` / ``<duet>_01.npz`` and scored by ``cli.py
evaluate``'s code (:func:`metrics.evaluate.run_evaluate`, the duet task; BAS against the song's beats
as ``evaluate`` finds them, BED against the true leader):

* ``truth``: the true followers;
* ``tokenized``: the true follower through the duet and translation tokenizers, placed by the decoded
  offset beside the true leader (the ceiling the tokens allow);
* ``generated``: the GPT's follower for the true leader and song;
* ``mirrored_leader``: the leader's own motion reflected left-right in its heading frame, placed on the
  true follower's pelvis path (a baseline that knows where the follower stands);
* ``other_leader``: the GPT following another test duet's leader (cut to this duet's length), scored
  against this duet's leader (does it watch the leader? FID_cd and BED should fall apart);
* ``other_song``: the GPT following the true leader to another test duet's song (does it listen? BAS
  against this song's beats should drop).

    python bench/duet_report.py --synth demo_out/synth --ckpt demo_out/checkpoints/duet_gpt/last.ckpt
        [--out DIR] [--seed 0] [--temperature 0.7] [--top-p 0.9] [--top-k 0] [--protocol pasdeux-duet]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data.datasets.dd100 import DD100Reader  # noqa: E402
from data.formats import save_motion  # noqa: E402
from data.geometry import rotate_about_y, to_heading_frame  # noqa: E402
from data.motion import Motion  # noqa: E402
from data.synth.duet import mirror_permutation, mirror_positions  # noqa: E402
from duet.model import TRANSLATION  # noqa: E402
from duet.pretrained import Follower, follower_sampling  # noqa: E402
from gpt.sampling import SamplingConfig  # noqa: E402
from metrics.evaluate import run_evaluate  # noqa: E402
from tokenizer.translation import follower_offset  # noqa: E402

SETS = ("truth", "tokenized", "generated", "mirrored_leader", "other_leader", "other_song")
COLUMNS = ("FID_k", "FID_g", "FID_cd", "Div_k", "Div_cd", "BAS", "BED", "slip% (corr)", "contact% (capsule)", "PFC")


def tokenized(follower: Follower, leader: Motion, truth: Motion) -> Motion:
    """The true follower through both tokenizers, placed beside the true leader."""
    lj = torch.as_tensor(leader.joints, dtype=torch.float32)
    offset, _ = follower_offset(lj, torch.as_tensor(truth.joints[:, 0], dtype=torch.float32), follower.translation.frame)
    tokens = {**follower.tokenizer.encode(truth), TRANSLATION: follower.translation.encode(offset)}
    return follower.place(tokens, leader, name=truth.name, music=truth.music)


def mirrored(leader: Motion, truth: Motion) -> Motion:
    """The leader reflected left-right in its own heading frame, on the true follower's pelvis path."""
    lj = torch.as_tensor(leader.joints)
    _, heading = follower_offset(lj, lj[:, 0], "leader")
    rel = to_heading_frame(lj - lj[:, :1], heading[:, None])  # (T, J, 3) in the leader's frame
    refl = torch.as_tensor(mirror_positions(rel.numpy()[:, mirror_permutation(leader.skeleton)]))
    joints = rotate_about_y(refl, heading[:, None]).numpy() + truth.joints[:, :1]
    return Motion(skeleton=leader.skeleton, fps=leader.fps, joints=joints, name=truth.name, music=truth.music)


def cut_to(motion: Motion, frames: int) -> Motion:
    """``motion`` cut to ``frames`` frames, its last frame held where it is shorter."""
    if motion.num_frames >= frames:
        return motion.slice(0, frames)
    idx = np.minimum(np.arange(frames), motion.num_frames - 1)
    pick = lambda a: None if a is None else a[idx]  # noqa: E731
    return Motion(skeleton=motion.skeleton, fps=motion.fps, joints=motion.joints[idx], rotations=pick(motion.rotations),
                  root=pick(motion.root), name=motion.name, music=motion.music)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", type=Path, default=ROOT / "demo_out" / "synth")
    parser.add_argument("--ckpt", type=Path, required=True, help="interaction GPT checkpoint")
    parser.add_argument("--out", type=Path, default=ROOT / "demo_out" / "duet_report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.7, help="default: cli.py follow's")
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument("--translation-temperature", type=float, default=None,
                        help="the relative-translation stream's own temperature (default: --temperature)")
    parser.add_argument("--translation-top-p", type=float, default=None, help="its own top-p (default: --top-p)")
    parser.add_argument("--protocol", default=None, help="duolando (default) or pasdeux-duet")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = args.synth / "dd100"
    reader = DD100Reader(root)
    follower = Follower.from_checkpoint(args.ckpt)
    names = reader.duets("test")
    pairs = {n: reader.load_pair(n) for n in names}  # (leader, follower)
    music = {n: follower.music_features(reader.music_path(n)).features for n in names}
    nxt = {n: names[(i + 1) % len(names)] for i, n in enumerate(names)}
    sampling = follower_sampling(follower.gpt.streams, SamplingConfig(args.temperature, args.top_k, args.top_p),
                                 args.translation_temperature, args.translation_top_p)
    g = lambda: torch.Generator().manual_seed(args.seed)  # noqa: E731  the same draws for every set
    followers: dict[str, dict[str, Motion]] = {}
    for s in args.sets:
        t = time.perf_counter()
        leaders = [pairs[n][0] for n in names]
        if s == "truth":
            followers[s] = {n: pairs[n][1] for n in names}
        elif s == "tokenized":
            followers[s] = {n: tokenized(follower, *pairs[n]) for n in names}
        elif s == "mirrored_leader":
            followers[s] = {n: mirrored(*pairs[n]) for n in names}
        else:
            frames = [m.num_frames for m in leaders]
            lead = [cut_to(pairs[nxt[n]][0], f) if s == "other_leader" else pairs[n][0] for n, f in zip(names, frames)]
            songs = [music[nxt[n]] if s == "other_song" else music[n] for n in names]
            songs = [np.pad(m, ((0, max(0, f - m.shape[0])), (0, 0)), mode="edge") for m, f in zip(songs, frames)]
            out = follower.follow(lead, songs, sampling, generator=g(), names=names)
            followers[s] = {n: d.motion for n, d in zip(names, out)}
        print(f"{s}: {len(followers[s])} followers ({time.perf_counter() - t:.1f} s)", flush=True)
    described = {s: vars(c) for s, c in sampling.items()} if isinstance(sampling, dict) else vars(sampling)
    report: dict = {"checkpoint": str(args.ckpt), "test_duets": len(names), "sampling": described,
                    "load_average_start": round(os.getloadavg()[0], 2)}
    rows = {}
    beats = root / "music" / "mp3" / "all"
    for s, fs in followers.items():
        folder = args.out / s
        folder.mkdir(parents=True, exist_ok=True)
        for n, m in fs.items():
            leader = pairs[n][0]
            for motion, suffix in ((m, "00"), (leader, "01")):
                motion.music, motion.name = n, f"{n}_{suffix}"  # BAS against this duet's song
                save_motion(motion, folder / f"{n}_{suffix}.npz", "npz")
        scores = run_evaluate("duet", folder, root, protocol=args.protocol, beats=beats, out=args.out / f"{s}.json")
        met = scores["metrics"]
        rows[s] = {c: met[c]["pred"] for c in COLUMNS if c in met}
        rows[s].update({f"{c} reference": met[c]["reference"] for c in ("Div_k", "Div_cd") if c in met})
    report["sets"] = rows
    report["seconds"] = round(time.perf_counter() - start, 1)
    cols = [c for c in COLUMNS if any(c in r for r in rows.values())]
    print("\n" + " | ".join(["set"] + cols))
    for s, r in rows.items():
        print(" | ".join([s] + [f"{r[c]:.3f}" if isinstance(r.get(c), float) else str(r.get(c, "-")) for c in cols]))
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"\n{args.out / 'report.json'}")
    return report


if __name__ == "__main__":
    main()
