"""Benchmark: tokenizer training throughput (windows per second) on this machine's CPU.

One training step = forward (all parts, all heads, every loss) + backward + Adam step, on windows of
the config's length, for each shipped tokenizer config (paper sizes and quick). Inputs are smooth
synthetic motions of the right skeleton (values do not change the cost; the first step's k-means
init and the warm-up steps are not timed).

In-process baseline: the same model with the quantiser's rotation trick on (vector-quantize-pytorch's
default, which pasdeux turns off) against off, same inputs, same process: the cost of that one switch
in a whole training step, not in the quantiser alone.

    python bench/bench_tokenizer.py [--steps 4] [--paper-batch 4] [--out FILE.json]

Paper-size configs are timed at ``--paper-batch`` windows per step (their YAML batch of 32 / 128 would
take minutes a step on a CPU); windows per second hardly depends on the batch at these sizes. The
machine's load average is printed with the figures: the CPU may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig  # noqa: E402
from tokenizer.translation import RelativeTranslationVQVAE, TranslationConfig  # noqa: E402
from training.config import coerce_config  # noqa: E402

CONFIGS = {
    "solo paper": "configs/solo/tokenizer.yaml",
    "duet paper": "configs/duet/tokenizer.yaml",
    "translation paper": "configs/duet/translation.yaml",
    "solo quick": "configs/quick/solo_tokenizer.yaml",
    "duet quick": "configs/quick/duet_tokenizer.yaml",
    "translation quick": "configs/quick/duet_translation.yaml",
}


def load_yaml(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def toy_inputs(model: torch.nn.Module, batch: int, frames: int, seed: int = 0) -> tuple:
    """Smooth inputs of the model's shapes: joints (B, T, J, 3), 6D rotations, root velocity / offsets."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float32)[None, :, None]
    if isinstance(model, RelativeTranslationVQVAE):
        freq = torch.rand(batch, 1, 3, generator=g) * 0.05
        return (torch.sin(t * freq) + torch.randn(batch, 1, 3, generator=g),)
    J = model.num_joints
    freq = torch.rand(batch, 1, J * 3, generator=g) * 0.2
    joints = (0.3 * torch.sin(t * freq + torch.rand(batch, 1, J * 3, generator=g) * 6)).reshape(batch, frames, J, 3)
    joints[..., 0, :] = 0.0  # pelvis-relative
    rotations = torch.randn(batch, frames, J, 6, generator=g) * 0.1 + torch.tensor([1.0, 0, 0, 0, 1.0, 0])
    root_vel = 0.01 * torch.sin(t * freq[..., :3])
    return joints, rotations, root_vel


def build(kind: str, cfg: dict, rotation_trick: bool | None = None):
    init = cfg["model"]["init_args"]
    if "tokenizer" in init:
        config = coerce_config(MotionTokenizerConfig, init["tokenizer"])
        if rotation_trick is not None:
            config = replace(config, part=replace(config.part, rotation_trick=rotation_trick))
        return MotionTokenizer(config, sync_codebook=False)
    config = coerce_config(TranslationConfig, init["translation"])
    if rotation_trick is not None:
        config = replace(config, part=replace(config.part, rotation_trick=rotation_trick))
    return RelativeTranslationVQVAE(config, sync_codebook=False)


def time_steps(model: torch.nn.Module, inputs: tuple, steps: int, warmup: int = 2) -> list[float]:
    """Seconds per training step (forward + backward + Adam), ``steps`` timed after ``warmup``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        _, _, losses = model(*inputs)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per config (after 2 warm-up steps)")
    parser.add_argument("--paper-batch", type=int, default=4, help="windows per step for the paper-size configs")
    parser.add_argument("--only", nargs="*", default=None, help="config names to run (default all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as json")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    results = {}
    for name, path in CONFIGS.items():
        if args.only and name not in args.only:
            continue
        cfg = load_yaml(path)
        data = cfg["data"]["init_args"]
        frames = int(data["window"])
        paper = "paper" in name
        batch = args.paper_batch if paper else int(data["batch_size"])
        model = build(name, cfg)
        windows = batch * (2 if "duet" in name and "tokenizer" in path else 1)  # duet: leader + follower
        inputs = toy_inputs(model, windows, frames)
        params = sum(p.numel() for p in model.parameters())
        times = time_steps(model, inputs, args.steps)
        step = statistics.median(times)
        row = {"config": path, "params_M": round(params / 1e6, 2), "frames": frames, "windows_per_step": windows,
               "step_s": round(step, 4), "windows_per_s": round(windows / step, 2)}
        # Baseline in the same process: the rotation trick on.
        trick = build(name, cfg, rotation_trick=True)
        trick.load_state_dict(model.state_dict())
        t_trick = statistics.median(time_steps(trick, inputs, args.steps))
        row["rotation_trick_step_s"] = round(t_trick, 4)
        row["rotation_trick_slowdown"] = round(t_trick / step, 3)
        results[name] = row
        print(f"{name:18s} {row['params_M']:7.2f} M params  {frames} frames x {windows:3d} windows  "
              f"{row['step_s'] * 1000:8.1f} ms/step  {row['windows_per_s']:7.2f} windows/s   "
              f"rotation trick on: {t_trick * 1000:8.1f} ms/step (x{row['rotation_trick_slowdown']:.2f})", flush=True)
        del model, trick
    for task in ("solo", "duet", "translation"):
        p, q = results.get(f"{task} paper"), results.get(f"{task} quick")
        if p and q:
            ratio = q["windows_per_s"] / p["windows_per_s"]
            results[f"{task} quick/paper"] = round(ratio, 1)
            print(f"{task}: the quick config trains {ratio:.1f}x more windows per second than the paper size "
                  f"(quick windows are {q['frames']} frames, paper {p['frames']})")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    results["load_average_end"] = round(os.getloadavg()[0], 2)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
