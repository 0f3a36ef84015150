"""``python cli.py demo`` (what ``make demo`` runs): the pipeline end to end on the synthetic corpus.

Every job lives in the package that owns it and the demo wires them into one dependency graph
(:mod:`demo.schedule`), run two at a time on two cores:

* :mod:`data.demo`: the corpus (reused when its preset, seed and the code are unchanged), a held-out
  solo dance, duet and camera track read back and previewed;
* the quick training stages, each ``cli.py fit`` on its ``configs/quick`` YAML with the paths moved
  under ``OUT`` (:func:`training.quick.fit_quick`; a stage whose config, inputs and code are unchanged
  is reused): :data:`tokenizer.demo.FITS`, :data:`gpt.demo.FITS`, :data:`duet.demo.FITS`,
  :data:`camera.demo.FITS`;
* :func:`tokenizer.demo.tokenizer_step`: motion rebuilt from the tokenizers' tokens;
* :func:`gpt.demo.dance_step`: ``cli.py dance`` on held-out songs;
* :func:`duet.demo.follow_step`: ``cli.py follow`` on a held-out leader and on the solo dance;
* :func:`camera.demo.film_step`: ``cli.py camera`` on a held-out dance and on the solo dance.

``schedule="demo"`` trains each stage for its ``demo_steps`` (so the whole demo fits in about 20
minutes on two cores); ``"full"`` for the configs' own ``max_steps`` (what the README's figures
are measured on). Everything lands under ``OUT``: the summary in ``OUT/demo_summary.json``, one page
to open in ``OUT/index.html``, each job's output in ``OUT/logs/``.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import threading
import time
from pathlib import Path

from camera.demo import FITS as CAMERA_FITS
from camera.demo import film_step
from data.demo import camera_step, corpus_step, duet_step, solo_step
from data.io import atomic_output
from demo.report import write_report
from demo.schedule import Task, run_tasks
from duet.demo import FITS as DUET_FITS
from duet.demo import follow_step
from gpt.demo import FITS as SOLO_FITS
from gpt.demo import dance_step
from tokenizer.demo import FITS as TOKENIZER_FITS
from tokenizer.demo import tokenizer_step
from training.quick import QuickFit, fit_quick, last_logged_step, source_fingerprint

FITS: tuple[QuickFit, ...] = (*TOKENIZER_FITS, *SOLO_FITS, *DUET_FITS, *CAMERA_FITS)
"""Every quick training stage, each after the stages it reads."""
SCHEDULES = ("demo", "full")
SECONDS_PER_STEP = {"solo_tokenizer": 0.6, "duet_tokenizer": 0.33, "duet_translation": 0.07, "solo_gpt": 0.8,
                    "solo_rl": 1.1, "duet_gpt": 0.9, "duet_rl": 1.6, "camera": 0.35}
"""Rough seconds per training step with one thread: only which task starts first depends on them."""


def _previews(out: Path) -> tuple[dict, str]:
    """The held-out solo dance, duet and camera track, read back and previewed (:mod:`data.demo`)."""
    parts = {"solo": solo_step(out), "duet": duet_step(out), "camera": camera_step(out)}
    return {k: v[0] for k, v in parts.items()}, "; ".join(v[1] for v in parts.values())


def demo_tasks(out: Path, preset: str, seed: int, schedule: str, reuse: bool, results: dict) -> list[Task]:
    """The demo's graph. Fit tasks put their :class:`training.quick.FitResult` in ``results``."""
    source = source_fingerprint()
    corpus_print = f"{preset}:{seed}:{source}"

    def corpus(threads: int) -> tuple[dict, str]:
        return corpus_step(out, preset=preset, seed=seed, fingerprint=corpus_print if reuse else None)

    def fit_task(fit: QuickFit) -> Task:
        steps = fit.demo_steps if schedule == "demo" else None
        total = steps or fit.config_steps

        def run(threads: int) -> tuple[dict, str]:
            upstream = {d: results[d].fingerprint for d in fit.deps}
            r = fit_quick(fit, out, steps, upstream, corpus_print, source, threads, reuse)
            results[fit.name] = r
            what = "reused (config, inputs and code unchanged)" if r.reused else f"trained in {r.seconds:.0f} s"
            return ({"steps": r.steps, "config_steps": r.config_steps, "seconds": r.seconds, "reused": r.reused,
                     "ckpt": str(r.ckpt)},
                    f"{r.steps} steps ({'of ' + str(r.config_steps) + ' in the config' if r.steps != r.config_steps else 'as configured'}), {what}"
                    f" -> {r.ckpt}")

        def status() -> str | None:
            step = last_logged_step(out, fit.name)
            return None if step is None else f"step {step}/{total}"

        return Task(fit.name, run, ("corpus", *fit.deps), SECONDS_PER_STEP.get(fit.name, 0.5) * total, status)

    with_threads = lambda step: (lambda threads: step(out, threads))  # noqa: E731
    return [Task("corpus", corpus, (), 60.0),
            Task("previews", lambda threads: _previews(out), ("corpus",), 40.0),
            *(fit_task(f) for f in FITS),
            Task("reconstructions", lambda threads: tokenizer_step(out), tuple(f.name for f in TOKENIZER_FITS), 40.0),
            Task("dance", with_threads(dance_step), (SOLO_FITS[-1].name,), 60.0),
            Task("follow", with_threads(follow_step), (DUET_FITS[-1].name, "dance"), 90.0),
            Task("film", with_threads(film_step), (CAMERA_FITS[-1].name, "dance"), 90.0)]


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def run_demo(out: str | Path, preset: str = "quick", seed: int = 0, schedule: str = "demo",
             jobs: int | None = None, reuse: bool = True) -> dict:
    """Run the demo's graph under ``out``; write ``OUT/demo_summary.json`` and ``OUT/index.html``;
    returns the summary. ``jobs``: tasks at once (default: 2 where there are 2 cores or more), each
    with ``cores // jobs`` threads; ``reuse``: take finished stages whose fingerprint is unchanged."""
    import torch

    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    out = Path(out).resolve()
    cores = os.cpu_count() or 1
    jobs = jobs or min(2, cores)
    threads = max(1, cores // jobs)
    torch.set_num_threads(threads)  # the in-process jobs (previews, reconstructions) share the cores too
    started = time.perf_counter()
    print(f"pasdeux demo -> {out} ({schedule} schedule, {jobs} jobs x {threads} thread(s); logs in {out / 'logs'})",
          flush=True)
    results: dict = {}
    main = threading.current_thread() is threading.main_thread()  # (signal handlers live there only)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main else None  # trainings stop with it
    try:
        done = run_tasks(demo_tasks(out, preset, seed, schedule, reuse, results), jobs=jobs, threads=threads,
                         log=lambda s: print(s, flush=True))
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    summary: dict = {key: done[name].summary for key, name in
                     (("corpus", "corpus"), ("tokenizer", "reconstructions"), ("solo_gpt", "dance"),
                      ("duet_gpt", "follow"), ("camera_model", "film"))}
    summary.update(done["previews"].summary)
    summary["stages"] = [{"stage": f.name, **{k: done[f.name].summary[k] for k in
                                              ("steps", "config_steps", "seconds", "reused")}} for f in FITS]
    summary["task_seconds"] = {name: d.seconds for name, d in done.items()}
    summary["schedule"] = schedule
    summary["machine"] = {"python": platform.python_version(), "torch": torch.__version__,
                          "cpu": platform.processor() or platform.machine(), "cores": str(cores),
                          "jobs": f"{jobs} x {threads} thread(s)"}
    summary["table"] = summary_table(summary)
    summary.update(media(summary))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    with atomic_output(out / "demo_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    page = write_report(out, summary)
    print(format_table(summary["table"]), flush=True)
    print(f"done in {summary['seconds']:.0f} s; open {page} (summary in {out / 'demo_summary.json'})", flush=True)
    return summary


def summary_table(summary: dict) -> list[dict]:
    """The rows of the demo's one table: job, metric, what the demo generated, the reference."""
    rows: list[dict] = []
    tok = summary["tokenizer"]
    rows.append({"job": "solo tokenizer", "metric": "pose MPJPE from tokens (mm)",
                 "generated": tok["solo_clip"]["pose_mpjpe_mm"], "reference": None, "note": tok["solo_clip"]["sequence"]})
    rows.append({"job": "duet tokenizer", "metric": "follower pose MPJPE from tokens (mm)",
                 "generated": tok["duet_clip"]["follower"]["pose_mpjpe_mm"], "reference": None,
                 "note": tok["duet_clip"]["duet"]})
    for r in summary["solo_gpt"]["dances"]:
        rows.append({"job": "solo dance", "metric": "BAS", "generated": r["bas"], "reference": r["bas_true_dance"],
                     "note": f"held-out song {r['song']}; reference: its true dance"})
    for r in summary["duet_gpt"]["followers"]:
        rows.append({"job": "duet follower", "metric": "BED", "generated": r["bed"],
                     "reference": r.get("bed_true_follower"), "note": r["leader"]})
        rows.append({"job": "duet follower", "metric": "pelvis distance (m)", "generated": r["distance_m"],
                     "reference": r.get("distance_true_m"), "note": r["leader"]})
    for r in summary["camera_model"]["films"]:
        if "dmr_16x9" in r:
            rows.append({"job": "camera", "metric": "dancer missing rate, 16:9", "generated": r["dmr_16x9"],
                         "reference": r["dmr_true_16x9"], "note": r["dance"]})
            rows.append({"job": "camera", "metric": "limbs capture difference, 16:9", "generated": r["lcd_16x9"],
                         "reference": 0.0, "note": f"{r['dance']}; against the true camera"})
    return rows


def media(summary: dict) -> dict[str, list[dict]]:
    """The report's ``videos``, ``plots`` and ``files``: what each job wrote, by job."""
    videos, plots, files = [], [], []
    solo, duet, cam, tok = summary["solo"], summary["duet"], summary["camera_model"], summary["tokenizer"]
    videos.append({"job": "corpus", "title": f"held-out solo dance {solo['sequence']} (ground truth)",
                   "path": solo["video"]})
    videos.append({"job": "corpus", "title": f"held-out duet {duet['name']} (ground truth)", "path": duet["video"]})
    files += [{"job": "corpus", "title": f"{solo['sequence']} as {k.upper()}", "path": solo[k]} for k in ("bvh", "npz")]
    videos += [{"job": "tokenizer", "title": title, "path": tok[key]} for key, title in (
        ("solo_video", "solo: source | from tokens"), ("duet_follower_video", "duet follower: source | from tokens"),
        ("duet_video", "true leader, follower from pose + translation tokens"))]
    for r in summary["solo_gpt"]["dances"]:
        videos.append({"job": "solo dance", "title": f"solo dance to {r['song']}", "path": r["video"]})
        plots.append({"job": "solo dance", "title": f"beat alignment: solo dance to {r['song']}", "path": r["beat_plot"]})
        files += [{"job": "solo dance", "title": Path(f).name, "path": f} for f in r["files"]]
    for r in summary["duet_gpt"]["followers"]:
        videos.append({"job": "duet follower", "title": f"follower to {r['leader']}", "path": r["video"]})
        plots.append({"job": "duet follower", "title": f"beat alignment: follower to {r['leader']}",
                      "path": r["beat_plot"]})
        files += [{"job": "duet follower", "title": Path(f).name, "path": f} for f in r["files"]]
    for r in cam["films"]:
        videos.append({"job": "camera", "title": f"{r['dance']} through the generated camera", "path": r["video"]})
        files += [{"job": "camera", "title": f"{r['dance']}: {Path(r[k]).name}", "path": r[k]}
                  for k in ("vmd", "dance_vmd") if k in r]
    return {"videos": videos, "plots": plots, "files": files}


def format_table(rows: list[dict]) -> str:
    """The table as aligned text, for the terminal."""
    cells = [("job", "metric", "generated", "reference", "")] + [
        (r["job"], r["metric"], f"{r['generated']}", "" if r.get("reference") is None else f"{r['reference']}",
         r.get("note", "")) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(4)) + "  " + c[4] for c in cells)


__all__ = ["FITS", "SCHEDULES", "demo_tasks", "run_demo", "summary_table", "media", "format_table"]
