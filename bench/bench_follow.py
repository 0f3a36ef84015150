"""Benchmark: following a leader with the look-ahead encoded once and a KV cache, against recomputing the
look-ahead and the window at every step (Duolando's loop), same model, same run.

For the quick and the paper-size interaction GPT (random weights: speed does not depend on them), one
duet at batch 1:

* ``ours``: the music and leader look-ahead encoders run once over the whole song
  (:meth:`duet.model.DuetGPT.music_tokens`, :meth:`~duet.model.DuetGPT.leader_tokens`), then one
  forward over one step per token through the KV cache (:func:`gpt.sampling.generate`);
* ``recompute``: at every step both encoders are rerun over the steps the window needs plus their
  look-ahead and look-back reach, and the window's last ``window`` steps through every layer (what
  Duolando does: five look-ahead transformers and twelve layers over ~290 tokens per step; here one
  music and one leader encoder).

Each is timed over ``--steps`` steady-state steps after a window-long start (median per step) and
reported as seconds per minute of music (7.5 tokens per second: 450 steps) plus, for ``ours``, the
once-per-song encoding measured on a whole minute.

    python bench/bench_follow.py [--sizes quick paper] [--steps 8] [--out FILE.json]
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

from duet.model import DuetGPT, DuetGPTConfig  # noqa: E402
from gpt.lightning import cut_tokens  # noqa: E402
from gpt.sampling import SamplingConfig, generate  # noqa: E402
from gpt.transformer import TransformerConfig  # noqa: E402

TOKEN_RATE = 7.5  # tokens per second of dance (30 fps, stride 4)
PARTS = ("upper", "lower", "lhand", "rhand")


def encoder(width: int, heads: int, layers: int, window: int, ahead: int) -> TransformerConfig:
    return TransformerConfig(n_layer=layers, n_embd=width, n_head=heads, window=window, ahead=ahead, dropout=0.0)


SIZES = {
    # configs/quick/duet_gpt.yaml and configs/duet/gpt.yaml, with the tokenizer facts those get
    # (128 / 512 codes, 64 / 512 translation codes, stride 4) and aist55 music.
    "quick": dict(transformer=TransformerConfig(n_layer=4, n_embd=128, n_head=4, window=12, dropout=0.0),
                  music_encoder=encoder(128, 4, 2, 5, 4), leader_encoder=encoder(128, 4, 2, 5, 4),
                  codebook_size=128, translation_codebook_size=64),
    "paper": dict(transformer=TransformerConfig(n_layer=12, n_embd=768, n_head=12, window=30, dropout=0.0),
                  music_encoder=encoder(768, 12, 3, 11, 10), leader_encoder=encoder(768, 12, 3, 11, 10),
                  codebook_size=512, translation_codebook_size=512),
}


def build(size: str) -> DuetGPT:
    torch.manual_seed(0)
    return DuetGPT(DuetGPTConfig(**SIZES[size], parts=PARTS, frames_per_token=4, music_dim=55, music_context=1,
                                 frozen_layers=2)).eval()


class Recompute:
    """The model as Duolando's loop runs it: a :class:`gpt.sampling.StepModel` whose every call reruns
    both look-ahead encoders from the raw music frames and leader tokens over what the steps need."""

    def __init__(self, model: DuetGPT, music: torch.Tensor, leader: dict[str, torch.Tensor]) -> None:
        self.model, self.music, self.leader = model, music, leader  # (1, T, F), {part: (1, N)}
        self.streams, self.window, self.receptive_field = model.streams, model.window, model.receptive_field

    def new_cache(self, batch: int):
        raise RuntimeError("the recompute loop has no cache")

    def start_tokens(self, batch: int) -> dict[str, torch.Tensor]:
        return self.model.start_tokens(batch)

    def forward_steps(self, condition, previous, start: int, cache) -> dict[str, torch.Tensor]:
        c, m = self.model.config, self.model
        n = next(iter(previous.values())).shape[1]
        f, margin = c.frames_per_token, c.music_margin
        lo, hi = start * f - margin, (start + n) * f + margin
        frames = self.music[:, max(0, lo):hi]
        frames = torch.nn.functional.pad(frames, (0, 0, max(0, -lo), max(0, hi - self.music.shape[1])))
        reach = max(c.leader_reach)
        lead = cut_tokens([{p: t[0] for p, t in self.leader.items()}], [start], n, reach, pad=m.pad_token)
        cond = {"music": m.music_tokens(frames, num_tokens=n, margin=margin),
                "leader": m.leader_tokens(lead, num_tokens=n, margin=reach)}
        return m.forward_steps(cond, previous, start, None)


def time_steps(step_model, cond: dict, steps: int, use_cache: bool, window: int) -> list[float]:
    stamps: list[float] = []
    n = window + steps + 1
    generate(step_model, cond, n, SamplingConfig(top_p=0.9), generator=torch.Generator().manual_seed(0),
             use_cache=use_cache, recompute_steps=None if use_cache else window,
             progress=lambda k: stamps.append(time.perf_counter()))
    return [b - a for a, b in zip(stamps[window:-1], stamps[window + 1:])]  # after a window-long start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--steps", type=int, default=8, help="timed steps per mode (after a window-long start)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}")
    results: dict = {}
    minute = int(60 * TOKEN_RATE)  # 450 steps
    for size in args.sizes:
        model = build(size)
        c = model.config
        params = sum(p.numel() for p in model.parameters()) / 1e6
        g = torch.Generator().manual_seed(1)
        music = torch.randn(1, minute * c.frames_per_token, c.music_dim, generator=g)  # (1, T, F)
        leader = {p: torch.randint(0, c.codebook_size, (1, minute), generator=g) for p in PARTS}
        with torch.no_grad():
            t = time.perf_counter()
            cond = {"music": model.music_tokens(music, num_tokens=minute), "leader": model.leader_tokens(leader)}
            encode = time.perf_counter() - t
        ours = statistics.median(time_steps(model, cond, args.steps, True, model.window))
        dummy = {"steps": torch.zeros(1, minute, 1)}  # the recompute loop reads the raw inputs itself
        ref = statistics.median(time_steps(Recompute(model, music, leader), dummy, args.steps, False, model.window))
        row = {"params_M": round(params, 1), "encode_once_s": round(encode, 3), "ours_step_ms": round(1e3 * ours, 2),
               "recompute_step_ms": round(1e3 * ref, 2),
               "ours_s_per_minute": round(encode + minute * ours, 2), "recompute_s_per_minute": round(minute * ref, 1)}
        row["ratio"] = round(row["recompute_s_per_minute"] / row["ours_s_per_minute"], 1)
        results[size] = row
        print(f"{size} ({params:.1f} M params): encode once {encode:.2f} s, step {1e3 * ours:.1f} ms -> "
              f"{row['ours_s_per_minute']:.1f} s per minute of music; recompute {1e3 * ref:.1f} ms per step -> "
              f"{row['recompute_s_per_minute']:.0f} s per minute; x{row['ratio']}", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
