"""The solo-GPT part of ``make demo``: the quick solo GPT and its actor-critic fine-tuning (:data:`FITS`,
trained by :mod:`demo` through :func:`training.quick.fit_quick`), and dances to held-out songs.

:func:`dance_step` (after the fits): ``cli.py dance`` with the fine-tuned checkpoint on the first two
test songs of the corpus (songs neither stage trained on): ``<out>/dance/<song>.{npz,pkl,bvh,mp4}``;
then the BAS of those dances against the songs' ground-truth beats, beside the true dances', and a
beat-alignment plot of each (``<out>/dance/<song>_beats.png``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from data.datasets.aistpp import AISTPPReader, parse_sequence_name
from data.formats import load_motion
from metrics.beat import bailando_bas
from metrics.plots import beat_alignment_plot
from training.quick import QuickFit, run_cli

FITS = (QuickFit("solo_gpt", "aistpp", {"tokenizer": "solo_tokenizer"}, demo_steps=400),
        QuickFit("solo_rl", "aistpp", {"gpt": "solo_gpt"}, demo_steps=50))
"""The quick solo stages, in order (the last is what dances), and their steps in the demo's short schedule."""
SONGS = 2


def dance_step(out: Path, threads: int | None = None) -> tuple[dict, str]:
    """The demo job (see :mod:`demo`): the fine-tuned solo GPT dances to held-out songs."""
    out = Path(out).resolve()
    start = time.perf_counter()
    rows = dance_held_out(out, FITS[-1].checkpoint(out), threads)
    summary = {"dance_s": round(time.perf_counter() - start, 1), "dances": rows, "video": rows[0]["video"]}
    line = (f"danced to {len(rows)} held-out songs: BAS {', '.join(str(r['bas']) for r in rows)} (true dances "
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


def dance_held_out(out: Path, ckpt: Path, threads: int | None = None) -> list[dict]:
    """``cli.py dance`` with ``ckpt`` on held-out songs, as a user runs it, then the BAS of each dance
    and of the song's true dance against the song's ground-truth beats."""
    reader = AISTPPReader(out / "synth" / "aistpp")
    names = held_out_songs(reader)
    songs = [reader.music_path(n) for n in names]
    run_cli("dance", "--ckpt", ckpt, "--music", *songs, "--out", out / "dance", log=out / "logs" / "dance.log",
            threads=threads)
    rows = []
    for n, song in zip(names, songs):
        truth = json.loads((out / "synth" / "aistpp" / "groundtruth" / "music" /
                            f"{parse_sequence_name(n).music_id}.json").read_text())
        dance = load_motion(out / "dance" / f"{song.stem}.npz")
        beats = np.round(np.asarray(truth["beat_times"]) * dance.fps).astype(np.int64)  # frames
        plot = beat_alignment_plot(dance.joints, dance.fps, beats, out / "dance" / f"{song.stem}_beats.png",
                                   title=f"solo dance to the held-out song {song.stem}")
        rows.append({"song": song.stem, "bas": round(bailando_bas(dance.joints, beats), 3),
                     "bas_true_dance": round(bailando_bas(reader.load(n).joints, beats), 3),
                     "video": str(out / "dance" / f"{song.stem}.mp4"), "beat_plot": str(plot),
                     "files": [str(p) for p in sorted((out / "dance").glob(f"{song.stem}.*"))
                               if p.suffix in (".npz", ".pkl", ".bvh")]})
    return rows
