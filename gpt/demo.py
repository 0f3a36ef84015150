"""The solo-GPT part of ``make demo``: train the quick solo GPT over the quick tokenizer, fine-tune it
with the actor-critic for a short run, and dance to held-out synthetic songs.

:func:`gpt_step` (after the tokenizer step, whose checkpoints it reads):

1. ``cli.py fit`` on ``configs/quick/solo_gpt.yaml`` then on ``configs/quick/solo_rl.yaml``, paths
   moved under ``<out>`` (the configs run are written to ``<out>/configs/``), in subprocesses;
2. ``cli.py dance`` with the fine-tuned checkpoint on the first two test songs of the corpus (songs
   neither stage trained on): ``<out>/dance/<song>.{npz,pkl,bvh,mp4}``;
3. the BAS of those dances against the songs' ground-truth beats, beside the true dances'.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from data.datasets.aistpp import AISTPPReader, parse_sequence_name
from data.formats import load_motion
from metrics.beat import bailando_bas
from tokenizer.demo import fit_relocated, run_cli

SONGS = 2


def gpt_step(out: Path) -> tuple[dict, str]:
    """The demo step (see :mod:`demo`): quick solo GPT + RL trained, dances to held-out songs."""
    out = Path(out).resolve()
    summary: dict = {}
    _, summary["solo_gpt_fit_s"] = fit_relocated("solo_gpt", out, "aistpp", {"tokenizer": "solo_tokenizer"}, "gpt demo")
    ckpt, summary["solo_rl_fit_s"] = fit_relocated("solo_rl", out, "aistpp", {"gpt": "solo_gpt"}, "gpt demo")

    start = time.perf_counter()
    rows = dance_held_out(out, ckpt)
    summary["dance_s"] = round(time.perf_counter() - start, 1)
    summary["dances"] = rows
    summary["video"] = rows[0]["video"]
    line = (f"solo GPT + RL trained ({summary['solo_gpt_fit_s']:.0f} s + {summary['solo_rl_fit_s']:.0f} s); danced to "
            f"{len(rows)} held-out songs: BAS {', '.join(str(r['bas']) for r in rows)} (true dances "
            f"{', '.join(str(r['bas_true_dance']) for r in rows)}) -> {summary['video']}")
    return summary, line


def held_out_songs(reader: AISTPPReader, count: int = SONGS) -> list[str]:
    """The first ``count`` test sequences with distinct songs (several dances share a song)."""
    names: list[str] = []
    seen: set[str] = set()
    for name in reader.sequences("test"):
        music_id = parse_sequence_name(name).music_id
        if music_id not in seen:
            seen.add(music_id)
            names.append(name)
        if len(names) == count:
            break
    return names


def dance_held_out(out: Path, ckpt: Path) -> list[dict]:
    """``cli.py dance`` with ``ckpt`` on held-out songs, as a user runs it, then the BAS of each dance
    and of the song's true dance against the song's ground-truth beats."""
    reader = AISTPPReader(out / "synth" / "aistpp")
    names = held_out_songs(reader)
    songs = [reader.music_path(n) for n in names]
    run_cli("dance", "--ckpt", ckpt, "--music", *songs, "--out", out / "dance")
    rows = []
    for n, song in zip(names, songs):
        truth = json.loads((out / "synth" / "aistpp" / "groundtruth" / "music" /
                            f"{parse_sequence_name(n).music_id}.json").read_text())
        beats = np.round(np.asarray(truth["beat_times"]) * 60).astype(np.int64)
        dance = load_motion(out / "dance" / f"{song.stem}.npz")
        rows.append({"song": song.stem, "bas": round(bailando_bas(dance.joints, beats), 3),
                     "bas_true_dance": round(bailando_bas(reader.load(n).joints, beats), 3),
                     "video": str(out / "dance" / f"{song.stem}.mp4")})
    return rows
