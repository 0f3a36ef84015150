"""``python cli.py demo`` (what ``make demo`` runs): the pipeline end to end on the synthetic corpus.

The demo is a list of steps, one per job, each living in the package that owns the job
(:mod:`data.demo`: corpus and previews; :mod:`tokenizer.demo`: the quick tokenizers; :mod:`gpt.demo`:
the quick solo GPT, its RL fine-tuning and dances to held-out songs; :mod:`duet.demo`: the quick
interaction GPT, its RL fine-tuning and followers for a held-out leader and for the solo dance;
:mod:`camera.demo`: the quick camera model filming a held-out dance and the solo dance). A step takes
the output folder, reads what earlier steps wrote there, and returns ``(summary, line)``. A later
stage adds its step to :data:`STEPS`; nothing below this package reaches across layers to run one.

Everything lands under ``OUT``; the summaries are written to ``OUT/demo_summary.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from camera.demo import camera_film_step
from data.demo import camera_step, corpus_step, duet_step, solo_step
from data.io import atomic_output
from duet.demo import duet_gpt_step
from gpt.demo import gpt_step
from tokenizer.demo import tokenizer_step

Step = Callable[[Path], tuple[dict, str]]

STEPS: list[tuple[str, Step]] = [
    ("solo", solo_step),
    ("duet", duet_step),
    ("camera", camera_step),
    ("tokenizer", tokenizer_step),
    ("solo_gpt", gpt_step),
    ("duet_gpt", duet_gpt_step),
    ("camera_model", camera_film_step),
]
"""After the corpus, in order: (summary key, step)."""


def run_demo(out: str | Path, preset: str = "quick", seed: int = 0) -> dict:
    """Synthesise the corpus, run every step, write ``OUT/demo_summary.json``; returns the summary."""
    out = Path(out)
    started = time.perf_counter()
    total = len(STEPS) + 1
    summary: dict = {}
    summary["corpus"], line = corpus_step(out, preset=preset, seed=seed)
    print(f"[1/{total}] {line}", flush=True)
    for n, (key, step) in enumerate(STEPS, start=2):
        summary[key], line = step(out)
        print(f"[{n}/{total}] {line}", flush=True)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    with atomic_output(out / "demo_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    videos = [summary["solo"]["video"], summary["duet"]["video"], summary["tokenizer"]["solo_video"],
              summary["solo_gpt"]["video"], *(r["video"] for r in summary["duet_gpt"]["followers"]),
              *(r["video"] for r in summary["camera_model"]["films"])]
    print(f"done in {summary['seconds']} s; previews: {', '.join(videos)}; summary in {out / 'demo_summary.json'}")
    return summary


__all__ = ["STEPS", "run_demo"]
