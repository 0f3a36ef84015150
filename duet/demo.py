"""The duet-follower part of ``make demo``: train the quick interaction GPT over the quick duet
tokenizers, fine-tune it with the off-policy actor-critic for a short run, and follow two leaders.

:func:`duet_gpt_step` (after the tokenizer and solo-GPT steps, whose checkpoints and dances it reads):

1. ``cli.py fit`` on ``configs/quick/duet_gpt.yaml`` then on ``configs/quick/duet_rl.yaml``, paths
   moved under ``<out>`` (the configs run are written to ``<out>/configs/``), in subprocesses;
2. ``cli.py follow`` with the fine-tuned checkpoint on the first held-out test duet's leader and song
   (``<out>/follow/<duet>_01*``), and on the demo's own solo dance to its song (``<out>/follow/<song>*``:
   an SMPL dance at 60 fps, put on SMPL-X and resampled to 30 fps by ``follow``);
3. the beat echo degree (BED) of each follower to its leader, beside the true follower's, and the mean
   pelvis-to-pelvis distance.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from data.datasets.dd100 import DD100Reader
from data.formats import load_motion
from metrics.duet import beat_echo_degree
from tokenizer.demo import fit_relocated, run_cli


def follow(ckpt: Path, leader: Path, song: Path, out: Path) -> None:
    """``cli.py follow`` as a user runs it."""
    run_cli("follow", "--ckpt", ckpt, "--leader", leader, "--music", song, "--out", out)


def duet_gpt_step(out: Path) -> tuple[dict, str]:
    """The demo step (see :mod:`demo`): quick interaction GPT + RL trained, followers for two leaders."""
    out = Path(out).resolve()
    summary: dict = {}
    _, summary["duet_gpt_fit_s"] = fit_relocated("duet_gpt", out, "dd100",
                                                 {"tokenizer": "duet_tokenizer", "translation": "duet_translation"},
                                                 "duet demo")
    ckpt, summary["duet_rl_fit_s"] = fit_relocated("duet_rl", out, "dd100", {"gpt": "duet_gpt"}, "duet demo")

    start = time.perf_counter()
    reader = DD100Reader(out / "synth" / "dd100")
    duet = reader.duets("test")[0]
    leader_file = reader.motion_path(duet, "01")
    follow(ckpt, leader_file, reader.music_path(duet), out / "follow")
    leader, truth = reader.load_pair(duet)
    generated = load_motion(out / "follow" / f"{leader_file.stem}_follower.npz")
    rows = [{"leader": f"held-out duet {duet}", "bed": round(beat_echo_degree(generated.joints, leader.joints), 3),
             "bed_true_follower": round(beat_echo_degree(truth.joints, leader.joints), 3),
             "distance_m": _distance(generated, leader), "distance_true_m": _distance(truth, leader),
             "video": str(out / "follow" / f"{leader_file.stem}.mp4")}]
    solo = sorted((out / "dance").glob("*.npz"))
    if solo:  # the solo GPT step's dance, to its own song
        song = Path(load_motion(solo[0]).music)
        follow(ckpt, solo[0], song, out / "follow")
        lead = load_motion(out / "follow" / f"{solo[0].stem}_leader.npz")
        gen = load_motion(out / "follow" / f"{solo[0].stem}_follower.npz")
        rows.append({"leader": f"the demo's solo dance {solo[0].stem}", "bed": round(beat_echo_degree(gen.joints, lead.joints), 3),
                     "distance_m": _distance(gen, lead), "video": str(out / "follow" / f"{solo[0].stem}.mp4")})
    summary["follow_s"] = round(time.perf_counter() - start, 1)
    summary["followers"] = rows
    summary["video"] = rows[0]["video"]
    line = (f"interaction GPT + RL trained ({summary['duet_gpt_fit_s']:.0f} s + {summary['duet_rl_fit_s']:.0f} s); "
            f"followed {len(rows)} leaders: BED {', '.join(str(r['bed']) for r in rows)} (true follower "
            f"{rows[0]['bed_true_follower']}) -> {', '.join(r['video'] for r in rows)}")
    return summary, line


def _distance(a, b) -> float:
    """Mean horizontal pelvis-to-pelvis distance, metres."""
    n = min(a.num_frames, b.num_frames)
    return round(float(np.linalg.norm((a.joints[:n, 0] - b.joints[:n, 0])[:, [0, 2]], axis=-1).mean()), 3)
