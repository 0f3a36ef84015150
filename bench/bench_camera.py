"""Seconds to film one minute of dance, at several sampling step counts, against DanceCamera3D's loop.

The network is built at the quick config's sizes (or the paper's, ``--size paper``) with random
weights (time does not depend on them) and films a synthetic 60-second dance whole (windows of the
model's length, a half-window hop, the last window on the last frame; every frame covered, checked).
Each DDIM step evaluates the guided x0, ``f(0,0) + w_d (f(d,0) - f(0,0)) + w_m (f(d,m) - f(d,0))``:
three network passes. pasdeux runs them as one batched forward; the baseline, run in the same process
on the same network, makes them three separate forwards per step, as DanceCamera3D's sampler does.

    python bench/bench_camera.py [--size quick|paper] [--steps 50 20 10] [--seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camera.diffusion import DiffusionConfig  # noqa: E402
from camera.model import DANCE_CHANNELS, CameraDenoiser, CameraModelConfig  # noqa: E402
from camera.representation import Normalizer  # noqa: E402
from camera.sampling import film_features  # noqa: E402

CONFIGS = {"quick": ROOT / "configs" / "quick" / "camera.yaml", "paper": ROOT / "configs" / "camera" / "diffusion.yaml"}


class SeparatePasses(torch.nn.Module):
    """The same network with DanceCamera3D's sampler: the three guidance passes as three forwards."""

    def __init__(self, net: CameraDenoiser) -> None:
        super().__init__()
        self.net = net
        self.config = net.config

    def forward(self, *args):
        return self.net(*args)

    def guided(self, x_t, t, dance, music, w_dance, w_music):
        B = x_t.shape[0]
        yes, no = torch.ones(B, dtype=torch.bool), torch.zeros(B, dtype=torch.bool)
        f00 = self.net(x_t, t, dance, music, no, no)
        fd0 = self.net(x_t, t, dance, music, yes, no)
        fdm = self.net(x_t, t, dance, music, yes, yes)
        return f00 + w_dance * (fd0 - f00) + w_music * (fdm - fd0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=tuple(CONFIGS), default="quick")
    ap.add_argument("--steps", type=int, nargs="+", default=[50, 20, 10])
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    cfg = yaml.safe_load(CONFIGS[args.size].read_text())["model"]["init_args"]
    torch.manual_seed(0)
    net = CameraDenoiser(CameraModelConfig(**{**cfg["model"], "music_channels": 35})).eval()
    norm = Normalizer(DANCE_CHANNELS, 35)
    T = int(round(args.seconds * 30))
    rng = np.random.default_rng(0)
    joints = torch.tensor(rng.normal(0, 10, (1, T, 60, 3)), dtype=torch.float32)
    music = torch.tensor(rng.normal(0, 1, (1, T, 35)), dtype=torch.float32)
    params = sum(p.numel() for p in net.parameters())
    print(f"camera model ({args.size}: {params / 1e6:.2f} M parameters, {net.config.window}-frame windows, "
          f"{net.config.frames_per_token} frame(s) per token), {args.seconds:g} s dance at 30 fps, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    def film(model, steps: int) -> float:
        diffusion = DiffusionConfig(sampling_steps=steps)
        film_features(model, norm, joints[:, :60], music[:, :60], diffusion, steps=1)  # warm-up
        t0 = time.perf_counter()
        x = film_features(model, norm, joints, music, diffusion, steps=steps, generator=torch.Generator().manual_seed(0))
        seconds = time.perf_counter() - t0
        assert x.shape[1] == T, (x.shape, T)  # frames out = frames in
        return seconds * 60.0 / args.seconds

    baseline = film(SeparatePasses(net), max(args.steps))
    print(f"| sampler | steps | network passes per step | s per minute of dance | vs DanceCamera3D's loop at "
          f"{max(args.steps)} steps |")
    print("|---|---|---|---|---|")
    print(f"| DanceCamera3D's (3 separate passes) | {max(args.steps)} | 3 | {baseline:.1f} | 1.00x |")
    for steps in args.steps:
        ours = film(net, steps)
        print(f"| pasdeux (3 passes, one batched forward) | {steps} | 3 | {ours:.1f} | {baseline / ours:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
