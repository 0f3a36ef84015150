"""The duet-follower part of ``make demo``: the quick interaction GPT and its off-policy actor-critic
fine-tuning (:data:`FITS`, trained by :mod:`demo` through :func:`training.quick.fit_quick`), and
followers for two leaders.

:func:`follow_step` (after the fits and the solo dances, which it reads):

1. ``cli.py follow`` with the fine-tuned checkpoint on the first held-out test duet's leader and song
   (``<out>/follow/<duet>_01*``), and on the demo's own solo dance to its song (``<out>/follow/<song>*``:
   an SMPL dance at 60 fps, put on SMPL-X and resampled to 30 fps by ``follow``);
2. the beat echo degree (BED) of each follower to its leader, beside the true follower's, and the mean
   pelvis-to-pelvis distance.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from data.datasets.dd100 import DD100Reader
from data.formats import load_motion
from metrics.duet import beat_echo_degree
from metrics.plots import beat_alignment_plot
from training.quick import QuickFit, run_cli

FITS = (QuickFit("duet_gpt", "dd100", {"tokenizer": "duet_tokenizer", "translation": "duet_translation"},
                 demo_steps=200),
        QuickFit("duet_rl", "dd100", {"gpt": "duet_gpt"}, demo_steps=50))
"""The quick duet stages, in order (the last is what follows), and their steps in the demo's short schedule."""


def follow(ckpt: Path, leader: Path, song: Path, out: Path, threads: int | None = None) -> None:
    """``cli.py follow`` as a user runs it (its output in ``<out>/../logs/follow_<leader>.log``)."""
    run_cli("follow", "--ckpt", ckpt, "--leader", leader, "--music", song, "--out", out,
            log=out.parent / "logs" / f"follow_{Path(leader).stem}.log", threads=threads)


def follow_step(out: Path, threads: int | None = None) -> tuple[dict, str]:
    """The demo job (see :mod:`demo`): the fine-tuned interaction GPT follows two leaders."""
    out = Path(out).resolve()
    summary: dict = {}
    ckpt = FITS[-1].checkpoint(out)
    start = time.perf_counter()
    reader = DD100Reader(out / "synth" / "dd100")
    duet = reader.duets("test")[0]
    leader_file = reader.motion_path(duet, "01")
    follow(ckpt, leader_file, reader.music_path(duet), out / "follow", threads)
    leader, truth = reader.load_pair(duet)
    generated = load_motion(out / "follow" / f"{leader_file.stem}_follower.npz")
    rows = [{"leader": f"held-out duet {duet}", "bed": round(beat_echo_degree(generated.joints, leader.joints), 3),
             "bed_true_follower": round(beat_echo_degree(truth.joints, leader.joints), 3),
             "distance_m": _distance(generated, leader), "distance_true_m": _distance(truth, leader),
             "video": str(out / "follow" / f"{leader_file.stem}.mp4"),
             "beat_plot": _beat_plot(generated, leader, out / "synth" / "dd100" / "groundtruth" / f"{duet}.json",
                                     out / "follow" / f"{leader_file.stem}_beats.png", f"follower to the held-out leader {duet}"),
             "files": _files(out / "follow", leader_file.stem)}]
    solo = sorted((out / "dance").glob("*.npz"))
    if solo:  # the solo GPT step's dance, to its own song
        song = Path(load_motion(solo[0]).music)
        follow(ckpt, solo[0], song, out / "follow", threads)
        lead = load_motion(out / "follow" / f"{solo[0].stem}_leader.npz")
        gen = load_motion(out / "follow" / f"{solo[0].stem}_follower.npz")
        song_truth = out / "synth" / "aistpp" / "groundtruth" / "music" / f"{song.stem}.json"
        rows.append({"leader": f"the demo's solo dance {solo[0].stem}", "bed": round(beat_echo_degree(gen.joints, lead.joints), 3),
                     "distance_m": _distance(gen, lead), "video": str(out / "follow" / f"{solo[0].stem}.mp4"),
                     "beat_plot": _beat_plot(gen, lead, song_truth, out / "follow" / f"{solo[0].stem}_beats.png",
                                             f"follower to the demo's solo dance {solo[0].stem}"),
                     "files": _files(out / "follow", solo[0].stem)})
    summary["follow_s"] = round(time.perf_counter() - start, 1)
    summary["followers"] = rows
    summary["video"] = rows[0]["video"]
    line = (f"followed {len(rows)} leaders: BED {', '.join(str(r['bed']) for r in rows)} (true follower "
            f"{rows[0]['bed_true_follower']}) -> {', '.join(r['video'] for r in rows)}")
    return summary, line


def _beat_plot(follower, leader, truth: Path, path: Path, title: str) -> str:
    """The follower's beat alignment to the song (beats from the corpus's ground truth ``truth``) and to
    its leader, as a PNG."""
    info = json.loads(truth.read_text())
    beat_times = (info.get("song") or info)["beat_times"]  # DD100 ground truth nests the song
    n = min(follower.num_frames, leader.num_frames)
    beats = np.round(np.asarray(beat_times) * follower.fps).astype(np.int64)
    return str(beat_alignment_plot(follower.joints[:n], follower.fps, beats, path, title=title,
                                   leader=leader.joints[:n]))


def _files(folder: Path, stem: str) -> list[str]:
    """What ``follow`` wrote for one leader (motion files, not the preview)."""
    return [str(p) for p in sorted(folder.glob(f"{stem}_*")) if p.suffix in (".npz", ".bvh")]


def _distance(a, b) -> float:
    """Mean horizontal pelvis-to-pelvis distance, metres."""
    n = min(a.num_frames, b.num_frames)
    return round(float(np.linalg.norm((a.joints[:n, 0] - b.joints[:n, 0])[:, [0, 2]], axis=-1).mean()), 3)
