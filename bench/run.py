"""Run every benchmark and write one report, ``bench/RESULTS.md``: the machine, the date, the commit,
and each benchmark's figures and ratios against its in-process baseline, as it printed them.

    python bench/run.py [--quick] [--only NAME ...] [--out bench/RESULTS.md]

Each benchmark runs in its own process (``python bench/<script> ARGS``) with the arguments below;
``--quick`` runs the smaller settings (a couple of minutes on 2 CPU cores instead of a quarter of an
hour). bf16 runs are left to the benchmarks' own options (`--precision`, `--dtypes`): on a CPU
without native bf16 they time an emulation. A benchmark that fails is reported as failed with the end of its output, the others still run,
and the exit status is 1. The report is written atomically when all have run. Benchmarks run on the
CPU; on a machine with a GPU, the GPU's name is recorded (the GPU figures of generation and training
come from the benchmarks' own ``--device`` options where they have one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.io import atomic_output  # noqa: E402


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    what: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]


BENCHES = (
    Bench("features", "bench_features.py", "music features per minute of audio against reference-style pipelines",
          ("--seconds", "60", "--repeat", "1"), ("--seconds", "20", "--repeat", "1")),
    Bench("metrics", "bench_metrics.py", "vectorised kinetic + geometric features against a per-frame loop",
          ("--loop-sequences", "8"), ("--sequences", "8", "--loop-sequences", "2")),
    Bench("tokenizer", "bench_tokenizer.py", "tokenizer training throughput per shipped config",
          ("--steps", "4"), ("--steps", "2", "--only", "solo quick", "duet quick")),
    Bench("tokenizer_vs_bailando", "bench_tokenizer_vs_bailando.py",
          "tokenizer training step against Bailando's VQ-VAE layout", ("--rounds", "2", "--precision", "fp32"),
          ("--rounds", "1", "--precision", "fp32")),
    Bench("generation", "bench_generation.py", "KV-cached solo generation against Bailando's window loop",
          ("--sizes", "quick", "paper", "--batches", "1", "16", "--dtypes", "fp32"),
          ("--sizes", "quick", "paper", "--batches", "1", "--dtypes", "fp32", "--steps", "4")),
    Bench("follow", "bench_follow.py", "duet following against Duolando's recompute-every-step loop",
          ("--sizes", "quick", "paper"), ("--sizes", "quick", "--steps", "4")),
    Bench("camera", "bench_camera.py", "filming a minute of dance against DanceCamera3D's three-pass loop",
          ("--size", "quick", "--steps", "50", "20", "10"), ("--size", "quick", "--steps", "20", "10",
                                                             "--seconds", "20")),
)


def machine() -> list[str]:
    """Lines describing this machine and run."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return [f"- date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
            f"- commit: {commit}",
            f"- CPU: {cpu}, {os.cpu_count()} logical cores; torch {torch.__version__} with {torch.get_num_threads()} threads",
            f"- GPU: {gpu}",
            f"- Python {platform.python_version()} on {platform.system()} {platform.release()}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller settings: minutes, not a quarter of an hour")
    ap.add_argument("--only", nargs="+", default=None, choices=[b.name for b in BENCHES])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = ap.parse_args()
    chosen = [b for b in BENCHES if args.only is None or b.name in args.only]
    lines = ["# pasdeux benchmarks", "", "Written by `python bench/run.py" + (" --quick" if args.quick else "")
             + "`. Every figure is measured in the benchmark's own process against a baseline run there "
               "too; nothing here is copied from elsewhere.", "", *machine(), ""]
    failed = []
    started = time.perf_counter()
    for b in chosen:
        cmd = [sys.executable, str(ROOT / "bench" / b.script), *(b.quick_args if args.quick else b.args)]
        shown = "python bench/" + b.script + " " + " ".join(b.quick_args if args.quick else b.args)
        print(f"[bench] {shown}", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        lines += [f"## {b.name}: {b.what}", "", f"`{shown}` ({seconds:.0f} s)", ""]
        if r.returncode == 0:
            lines += ["```", r.stdout.rstrip(), "```", ""]
        else:
            failed.append(b.name)
            tail = "\n".join((r.stdout + r.stderr).rstrip().splitlines()[-15:])
            lines += [f"**failed** (exit status {r.returncode}); the end of its output:", "", "```", tail, "```", ""]
        print(f"[bench] {b.name}: {'ok' if r.returncode == 0 else 'FAILED'} in {seconds:.0f} s", flush=True)
    lines += [f"All benchmarks: {time.perf_counter() - started:.0f} s" + (f"; failed: {', '.join(failed)}"
                                                                          if failed else "."), ""]
    with atomic_output(args.out) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    print(args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
