"""Optimiser and learning-rate schedule: one config dataclass, one builder every stage uses."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal

import torch

from data.errors import is_int


_FUSED_DEVICES = ("cpu", "cuda")
"""Devices with a fused Adam kernel."""


@dataclass
class OptimizerConfig:
    """Optimiser and learning-rate schedule. Defaults: Bailando's VQ-VAE (Adam 3e-5, betas (0.5, 0.999),
    x0.1 at epochs 100 and 200)."""

    name: Literal["adam", "adamw"] = "adam"
    """``adam`` or ``adamw`` (decoupled weight decay)."""
    lr: float = 3e-5
    """Peak learning rate."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas."""
    weight_decay: float = 0.0
    """Weight decay (L2 for adam, decoupled for adamw)."""
    scheduler: Literal["none", "multistep", "cosine"] = "multistep"
    """``multistep``: x gamma at each milestone epoch; ``cosine``: cosine decay to
    ``min_lr_ratio`` x lr over the run's optimiser steps; ``none``: constant (after warm-up)."""
    milestones: list[int] = field(default_factory=lambda: [100, 200])
    """Epochs at which ``multistep`` multiplies the rate by ``gamma``."""
    gamma: float = 0.1
    """``multistep`` factor."""
    warmup_steps: int = 0
    """Linear warm-up from 0 over this many optimiser steps (any scheduler)."""
    min_lr_ratio: float = 0.0
    """``cosine``: final rate as a fraction of ``lr``."""
    fused: bool = True
    """One fused kernel for the whole Adam update where the parameters' device has one (CPU, CUDA);
    the per-tensor loop it replaces is a large share of a step at small batches."""

    def __post_init__(self) -> None:
        if self.name not in ("adam", "adamw"):
            raise ValueError(f"optimizer name must be adam or adamw, got {self.name!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        self.betas = tuple(self.betas)  # YAML gives a list
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.scheduler not in ("none", "multistep", "cosine"):
            raise ValueError(f"scheduler must be none, multistep or cosine, got {self.scheduler!r}")
        self.milestones = [int(m) for m in self.milestones]
        if self.milestones != sorted(self.milestones) or any(m < 1 for m in self.milestones):
            raise ValueError(f"milestones must be increasing positive epochs, got {self.milestones}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not (is_int(self.warmup_steps) and self.warmup_steps >= 0):
            raise ValueError(f"warmup_steps must be a non-negative integer, got {self.warmup_steps!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0 or self.weight_decay < 0:
            raise ValueError("min_lr_ratio must be in [0, 1] and weight_decay >= 0")
        if not isinstance(self.fused, bool):
            raise ValueError(f"fused must be true or false, got {self.fused!r}")


def lr_factor(config: OptimizerConfig, step: int, epoch: int, total_steps: int) -> float:
    """The learning rate at optimiser step ``step`` of ``total_steps`` (epoch ``epoch``), as a fraction of
    ``config.lr``: linear warm-up times the schedule."""
    c = config
    warm = min(1.0, (step + 1) / c.warmup_steps) if c.warmup_steps > 0 else 1.0
    if c.scheduler == "multistep":
        return warm * c.gamma ** bisect.bisect_right(c.milestones, epoch)
    if c.scheduler == "cosine":
        progress = min(1.0, max(0, step - c.warmup_steps) / max(1, total_steps - c.warmup_steps))
        return warm * (c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
    return warm


def build_optimizer(parameters: Iterable[torch.nn.Parameter], config: OptimizerConfig, total_steps: int,
                    epoch: Callable[[], int]) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """The optimiser and its per-step schedule.

    One ``LambdaLR`` stepped per optimiser step carries warm-up and schedule together (two schedulers
    on one optimiser would overwrite each other's rate). Milestones are epochs, read from ``epoch()``
    when the scheduler steps (Lightning's live epoch counter).
    """
    c = config
    opt_cls = torch.optim.AdamW if c.name == "adamw" else torch.optim.Adam
    parameters = list(parameters)
    fused = c.fused and bool(parameters) and all(p.device.type in _FUSED_DEVICES and p.is_floating_point()
                                                 for p in parameters)
    optimizer = opt_cls(parameters, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay, fused=fused or None)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(c, step, epoch(), max(1, int(total_steps))))
    return optimizer, scheduler


__all__ = ["OptimizerConfig", "lr_factor", "build_optimizer"]
