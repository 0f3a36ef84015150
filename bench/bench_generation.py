"""Benchmark: KV-cached generation against recomputing the window (Bailando's loop), same model, same run.

For the quick and the paper-size solo GPT (random weights: speed does not depend on them), in fp32 and
with bf16 weights, at batch 1 and 16, each token step is timed in steady state: a prompt fills the
window first, then ``--steps`` steps are timed one by one (the median is reported).

* ``cached``: one forward over the new step through the KV cache (:func:`gpt.sampling.generate`);
* ``window``: the last ``window`` steps recomputed through every layer at each step (Bailando's loop:
  28 steps x 3 streams x 12 layers per token at paper size);
* ``weights once``: reading every weight matrix once, the memory-bandwidth bound of a batch-1 step,
  measured two ways: summing each matrix (a pure read: the bound) and a matrix-vector product per
  matrix (what a one-row step must at least do with torch's kernels). A cached step cannot beat them
  by much; the window loop must re-read and recompute far more.

Real time: the model makes 7.5 tokens per second of dance; ``x real time`` is how many seconds of
dance one second of generation makes (batch 1), or per second for the whole batch.

    python bench/bench_generation.py [--sizes quick paper] [--batches 1 16] [--dtypes fp32 bf16]
        [--steps 8] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gpt.sampling import SamplingConfig, generate  # noqa: E402
from gpt.solo import SoloGPT, SoloGPTConfig  # noqa: E402
from gpt.transformer import TransformerConfig  # noqa: E402

TOKEN_RATE = 7.5  # tokens per second of dance (60 fps, stride 8)
SIZES = {
    # configs/quick/solo_gpt.yaml and configs/solo/gpt.yaml (Bailando: 12 layers, 768 wide, 12 heads,
    # 29 steps), with the tokenizer facts those configs get (128 / 512 codes, stride 8) and aist55 music.
    "quick": dict(transformer=TransformerConfig(n_layer=4, n_embd=128, n_head=4, window=12, dropout=0.0),
                  codebook_size=128, music_context=1, frozen_layers=2),
    "paper": dict(transformer=TransformerConfig(n_layer=12, n_embd=768, n_head=12, window=29, dropout=0.0),
                  codebook_size=512, music_context=1, frozen_layers=6),
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def build(size: str) -> SoloGPT:
    torch.manual_seed(0)
    return SoloGPT(SoloGPTConfig(**SIZES[size], frames_per_token=8, music_dim=55, genres=("BR", "PO"))).eval()


def time_steps(model: SoloGPT, batch: int, steps: int, use_cache: bool) -> list[float]:
    """Seconds of each steady-state step (after a prompt of one window)."""
    W = model.window
    n = W + steps + 1
    c = model.config
    cond = {"music": torch.randn(batch, n, c.transformer.n_embd).to(model.music_in.weight.dtype),
            "genre": torch.zeros(batch, n, dtype=torch.long)}
    prompt = {p: torch.randint(0, c.codebook_size, (batch, W)) for p in c.parts}
    stamps: list[float] = []
    generate(model, cond, steps + 1, SamplingConfig(top_p=0.9), prompt=prompt, generator=torch.Generator().manual_seed(0),
             use_cache=use_cache, recompute_steps=None if use_cache else W,
             progress=lambda k: stamps.append(time.perf_counter()))
    return [b - a for a, b in zip(stamps[:-1], stamps[1:])]  # the first step (the prefill) is not counted


def weight_read_seconds(model: SoloGPT, repeats: int = 5) -> tuple[float, float]:
    """Median times of reading every weight matrix once: ``(sum of each, matrix-vector product each)``."""
    mats = [m for name, m in model.named_parameters() if m.ndim == 2 and "embedding" not in name]
    vecs = [torch.randn(m.shape[1], dtype=m.dtype) for m in mats]
    sums, mvs = [], []
    with torch.no_grad():
        for _ in range(repeats):
            t = time.perf_counter()
            for m in mats:
                m.sum()
            sums.append(time.perf_counter() - t)
            t = time.perf_counter()
            for m, v in zip(mats, vecs):
                torch.mv(m, v)
            mvs.append(time.perf_counter() - t)
    return statistics.median(sums), statistics.median(mvs)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--steps", type=int, default=8, help="timed steps per row (after the prefill)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}")
    results: dict = {}
    for size in args.sizes:
        base = build(size)
        params = sum(p.numel() for p in base.parameters()) / 1e6
        for dname in args.dtypes:
            model = build(size).to(DTYPES[dname])
            bound, bound_mv = weight_read_seconds(model)
            print(f"\n{size} ({params:.1f} M params, window {model.window}), {dname} weights: "
                  f"reading every weight once {1e3 * bound:.1f} ms (a matrix-vector product each: {1e3 * bound_mv:.1f} ms)")
            for batch in args.batches:
                row = {"weights_once_ms": round(1e3 * bound, 2), "weights_once_mv_ms": round(1e3 * bound_mv, 2)}
                for mode, cached in (("cached", True), ("window", False)):
                    row[f"{mode}_ms"] = round(1e3 * statistics.median(time_steps(model, batch, args.steps, cached)), 2)
                speedup = row["window_ms"] / row["cached_ms"]
                rt = 1.0 / (row["cached_ms"] / 1e3 * TOKEN_RATE)  # seconds of dance per second, per sequence
                row.update(speedup=round(speedup, 2), cached_vs_weights_once=round(row["cached_ms"] / row["weights_once_ms"], 2),
                           cached_vs_weights_once_mv=round(row["cached_ms"] / row["weights_once_mv_ms"], 2),
                           x_real_time_per_dance=round(rt, 1), x_real_time_batch=round(rt * batch, 1),
                           window_x_real_time_per_dance=round(1.0 / (row["window_ms"] / 1e3 * TOKEN_RATE), 2))
                results[f"{size}/{dname}/batch{batch}"] = row
                print(f"  batch {batch:3d}: cached {row['cached_ms']:8.2f} ms/step  window {row['window_ms']:9.2f} ms/step  "
                      f"x{speedup:6.1f}   cached/weights-once {row['cached_vs_weights_once']:.2f} "
                      f"(/mv {row['cached_vs_weights_once_mv']:.2f})   "
                      f"{rt:7.1f}x real time per dance ({rt * batch:.0f}x for the batch; window loop "
                      f"{row['window_x_real_time_per_dance']:.2f}x)")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
