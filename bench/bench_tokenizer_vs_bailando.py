"""Benchmark: pasdeux's tokenizer training step against Bailando's VQ-VAE layout, same sizes, same run.

The reference is Bailando's choreographic memory written from its published description (the paper and
its config ``sep_vqvae``: per part a Jukebox-style encoder of ``levels`` stride-2 conv blocks with
``depth`` dilated residual units, a 512 x 512 EMA codebook, one decoder with reversed dilations and
transposed-conv upsampling, L1 + velocity + acceleration loss on positions), for the solo parts
(upper 15 and lower 9 SMPL joints, stride 8 at 60 fps) and, at the same sizes, for the duet parts
(upper, lower and two hands of SMPL-X, stride 4 at 30 fps). It decodes positions only: the
throughput pasdeux's tokenizer, which also decodes 6D rotations and root velocity, is measured against.

Each round times one training step (forward, every loss, backward, Adam) of every variant in turn
(the order reversed every other round), so load on the machine hits them alike; the figure is the
median over rounds, in windows per second, with the ratio to the reference in fp32 and the quartiles
of the per-round ratios (a run-to-run spread on a shared machine). Architectures are compared with
plain Adam on every row; the row ``shipped fp32, fused Adam`` is the step ``cli.py fit`` runs.
Variants: the reference; ``configs/<task>/tokenizer.yaml`` as shipped; and, with ``--variant NAME=KEY:VALUE,...``, the same config with part settings overridden
(e.g. ``separate=shared_decoder:false``). bf16 runs the step under ``torch.autocast`` (what
``precision: bf16-mixed`` does); on a CPU without native bf16 it is slower, which the output shows.
GFLOP per window are counted once per variant with ``torch.utils.flop_counter``, after the warm-up step
(so the codebook's k-means initialisation is not counted as a step's work).

    python bench/bench_tokenizer_vs_bailando.py [--task solo duet] [--batch 4] [--rounds 5]
        [--precision fp32 bf16] [--variant separate=shared_decoder:false] [--profile] [--out FILE.json]
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
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig  # noqa: E402
from training.config import coerce_config  # noqa: E402

CONFIGS = {"solo": "configs/solo/tokenizer.yaml", "duet": "configs/duet/tokenizer.yaml"}


# --------------------------------------------------------------------------------------------------
# The reference layout
# --------------------------------------------------------------------------------------------------
class _ResUnit(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


def _resnet(width: int, depth: int, growth: int, reverse: bool) -> nn.Sequential:
    dilations = [growth ** d for d in range(depth)]
    return nn.Sequential(*(_ResUnit(width, d) for d in (dilations[::-1] if reverse else dilations)))


class _EMACodebook(nn.Module):
    """Nearest code by squared L2, straight-through gradient, EMA update (mu 0.99), commitment MSE."""

    def __init__(self, size: int, dim: int, mu: float = 0.99) -> None:
        super().__init__()
        self.mu = mu
        self.register_buffer("k", torch.randn(size, dim) * 0.01)
        self.register_buffer("k_sum", self.k.clone())
        self.register_buffer("k_elem", torch.ones(size))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (N, D)
        x = x.float()
        dist = x.square().sum(1, keepdim=True) - 2 * x @ self.k.t() + self.k.square().sum(1)[None]
        idx = dist.argmin(1)
        q = self.k[idx]
        if self.training:
            with torch.no_grad():
                onehot = F.one_hot(idx, self.k.shape[0]).type(x.dtype)  # (N, K)
                self.k_sum.mul_(self.mu).add_(onehot.t() @ x, alpha=1 - self.mu)
                self.k_elem.mul_(self.mu).add_(onehot.sum(0), alpha=1 - self.mu)
                self.k.copy_(self.k_sum / self.k_elem.clamp_min(1e-5)[:, None])
        commit = (q.detach() - x).square().mean()
        return x + (q - x).detach(), commit


class BailandoPart(nn.Module):
    """One part: encoder, EMA bottleneck, position decoder (sizes of Bailando's ``sep_vqvae``)."""

    def __init__(self, channels: int, levels: int, width: int = 512, depth: int = 3, growth: int = 3,
                 codes: int = 512) -> None:
        super().__init__()
        enc: list[nn.Module] = []
        for level in range(levels):
            enc += [nn.Conv1d(channels if level == 0 else width, width, 4, 2, 1), _resnet(width, depth, growth, False)]
        self.encoder = nn.Sequential(*enc, nn.Conv1d(width, width, 3, padding=1))
        self.codebook = _EMACodebook(codes, width)
        dec: list[nn.Module] = [nn.Conv1d(width, width, 3, padding=1)]
        for _ in range(levels):
            dec += [_resnet(width, depth, growth, True), nn.ConvTranspose1d(width, width, 4, 2, 1)]
        self.decoder = nn.Sequential(*dec, nn.Conv1d(width, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> loss
        z = self.encoder(x.transpose(1, 2))  # (B, D, N)
        B, D, N = z.shape
        with torch.autocast(device_type=x.device.type, enabled=False):
            q, commit = self.codebook(z.transpose(1, 2).reshape(B * N, D))
        y = self.decoder(q.reshape(B, N, D).transpose(1, 2)).transpose(1, 2).float()  # (B, T, C)
        l1 = lambda a, b: (a - b).abs().mean()  # noqa: E731
        vel = lambda a: a[:, 1:] - a[:, :-1]  # noqa: E731
        return l1(y, x) + l1(vel(y), vel(x)) + l1(vel(vel(y)), vel(vel(x))) + 0.02 * commit


class BailandoVQVAE(nn.Module):
    """The part VQ-VAEs of one task, positions only; ``forward`` returns the mean part loss."""

    def __init__(self, part_channels: dict[str, int], levels: int) -> None:
        super().__init__()
        self.parts = nn.ModuleDict({name: BailandoPart(ch, levels) for name, ch in part_channels.items()})

    def forward(self, joints: torch.Tensor, part_joints: dict[str, tuple[int, ...]]) -> torch.Tensor:
        losses = [p(joints[:, :, list(part_joints[n])].flatten(2)) for n, p in self.parts.items()]
        return torch.stack(losses).mean()


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------
def smooth_inputs(num_joints: int, batch: int, frames: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Joints (B, T, J, 3) pelvis-relative, 6D rotations (B, T, J, 6), root velocity (B, T, 3)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float32)[None, :, None]
    freq = torch.rand(batch, 1, num_joints * 3, generator=g) * 0.2
    joints = (0.3 * torch.sin(t * freq + torch.rand(batch, 1, num_joints * 3, generator=g) * 6))
    joints = joints.reshape(batch, frames, num_joints, 3)
    joints[..., 0, :] = 0.0
    rotations = torch.randn(batch, frames, num_joints, 6, generator=g) * 0.1 + torch.tensor([1.0, 0, 0, 0, 1.0, 0])
    root_vel = 0.01 * torch.sin(t * freq[..., :3])
    return joints, rotations, root_vel


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, settings = text.partition("=")
    out = {}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition(":")
        out[key] = yaml.safe_load(value)
    return name, out


class Variant:
    """One model to time: ``step()`` runs forward, loss, backward and an Adam step."""

    def __init__(self, name: str, model: nn.Module, loss_fn, bf16: bool, fused: bool = False) -> None:
        self.name, self.model, self.loss_fn, self.bf16 = name, model, loss_fn, bf16
        # Plain Adam for the architecture comparison; ``fused`` is what ``cli.py fit`` builds by default
        # (training.optim.OptimizerConfig.fused), timed on its own row.
        self.opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=fused or None)
        self.times: list[float] = []
        model.train()

    def _loss(self) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.loss_fn(self.model)

    def step(self, timed: bool = True) -> None:
        start = time.perf_counter()
        loss = self._loss()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if timed:
            self.times.append(time.perf_counter() - start)

    def gflop(self, windows: int) -> float:
        counter = FlopCounterMode(display=False)
        with counter:
            self._loss().backward()
        self.opt.zero_grad(set_to_none=True)
        return counter.get_total_flops() / 1e9 / windows


def build_variants(task: str, precisions: list[str], extra: list[tuple[str, dict]], batch: int,
                   fused_row: bool = True) -> tuple[list, int]:
    cfg = yaml.safe_load((ROOT / CONFIGS[task]).read_text())
    init = cfg["model"]["init_args"]
    frames = int(cfg["data"]["init_args"]["window"])
    config = coerce_config(MotionTokenizerConfig, init["tokenizer"])
    spec = config.spec
    windows = batch * (2 if task == "duet" else 1)  # duet batches hold leader and follower
    joints, rotations, root_vel = smooth_inputs(len(get_joints(spec)), windows, frames)
    parts = {name: 3 * len(idx) for name, idx in spec.parts.items()}
    variants = []
    torch.manual_seed(0)
    reference = BailandoVQVAE(parts, config.part.levels)
    for precision in precisions:
        variants.append(Variant(f"Bailando layout {precision}", reference,
                                lambda m: m(joints, spec.parts), precision == "bf16"))
    for name, overrides in [("shipped", {}), *extra]:
        torch.manual_seed(0)
        model = MotionTokenizer(replace(config, part=replace(config.part, **overrides)), sync_codebook=False)
        for precision in precisions:
            variants.append(Variant(f"{name} {precision}", model, lambda m: m(joints, rotations, root_vel)[2]["loss"],
                                    precision == "bf16"))
    if fused_row:  # the shipped model with the optimiser `fit` builds: what a user gets
        for precision in precisions:
            variants.append(Variant(f"shipped {precision}, fused Adam", variants[len(precisions)].model,
                                    lambda m: m(joints, rotations, root_vel)[2]["loss"], precision == "bf16", fused=True))
    return variants, windows


def get_joints(spec) -> list[int]:
    return sorted(j for idx in spec.parts.values() for j in idx)


def profile_step(variant: Variant, rows: int = 12) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        variant.step(timed=False)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", nargs="+", default=["solo", "duet"], choices=list(CONFIGS))
    parser.add_argument("--batch", type=int, default=4, help="windows per step (duet: pairs, so twice the windows)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (after one warm-up round)")
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--variant", action="append", default=[], help="NAME=KEY:VALUE,... part overrides")
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top ops per model (fp32)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    extra = [parse_variant(v) for v in args.variant]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"bf16 on this CPU: {'native' if torch.backends.mkldnn.is_available() and _native_bf16() else 'emulated'}; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    results: dict = {}
    for task in args.task:
        variants, windows = build_variants(task, args.precision, extra, args.batch)
        for v in variants:  # warm-up round, untimed (k-means init, allocator)
            v.step(timed=False)
        flops = {v.name: v.gflop(windows) for v in variants}  # after the warm-up: k-means init is not a step's
        for r in range(args.rounds):  # alternating, and reversed every other round (ABBA: no order bias)
            for v in (variants if r % 2 == 0 else variants[::-1]):
                v.step()
        base = windows / statistics.median(variants[0].times)
        print(f"\n{task}: {windows} windows of {CONFIGS[task]}'s length per step, {args.rounds} rounds")
        rows = {}
        for v in variants:
            rate = windows / statistics.median(v.times)
            params = sum(p.numel() for p in v.model.parameters()) / 1e6
            # Spread: the per-round ratio to the reference's step of the same round (machine noise cancels).
            per_round = sorted(r / t for r, t in zip(variants[0].times, v.times))
            q1, q3 = per_round[len(per_round) // 4], per_round[(3 * len(per_round)) // 4]
            rows[v.name] = {"windows_per_s": round(rate, 2), "ratio_to_reference_fp32": round(rate / base, 3),
                            "ratio_iqr": [round(q1, 3), round(q3, 3)],
                            "gflop_per_window": round(flops[v.name], 2), "params_M": round(params, 1)}
            print(f"  {v.name:32s} {params:6.1f} M params {flops[v.name]:7.2f} GFLOP/window "
                  f"{rate:7.2f} windows/s  x{rate / base:.2f} (rounds: {q1:.2f}-{q3:.2f})")
        results[task] = rows
        if args.profile:
            for v in variants:
                if v.name.endswith("fp32"):
                    print(f"\n  profile of one {v.name} step ({task}):\n{profile_step(v)}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return results


def _native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


if __name__ == "__main__":
    main()
