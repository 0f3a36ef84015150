"""Gaussian diffusion for the camera: cosine schedule, x0 prediction, DDIM sampling with separate
classifier-free guidance for the dance and for the music given the dance, and whole songs by
inpainting overlapping windows.

DanceCamera3D's recipe (``reference/dancecamera3d.md`` section 3): T = 1000 steps, cosine schedule
(s = 0.008), the network predicts x0, DDIM over an evenly strided subset of the steps, and per step
three network passes combined as ``f(0,0) + w_dance (f(d,0) - f(0,0)) + w_music (f(d,m) - f(d,0))``.
Here the three passes are one batched forward, the number of sampling steps is a setting (quality
against time is benchmarked in ``bench/bench_camera.py``), and a song is covered to its last frame:

* windows of the model's length start every ``hop`` frames and the last one is aligned to the song's
  end (DanceCamera3D drops the tail shorter than a hop); a song shorter than a window is padded;
* after every step, the final x0 included, each window's frames that the previous window also holds
  are replaced by the previous window's fading into its own across the overlap (inpainting with a
  ramp, :func:`stitch_windows`; EDGE copies the overlap whole, which leaves a step where the copy
  ends), so each window starts where the one before it is and moves off smoothly; the camera
  features are relative to the same per-frame anchor in every window, so frames mix between windows
  exactly (:mod:`camera.representation`), and they are positions, view and up vectors and fov, not
  Euler angles, so no wrap-around is averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import torch

from data.errors import is_non_negative, is_positive_int

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(x_t (B, T, C), t (B,) long) -> x0 (B, T, C)``: the guided network."""


@dataclass
class DiffusionConfig:
    """The noise schedule and the sampler (DanceCamera3D: 1000 steps, cosine, DDIM 50, eta 1)."""

    timesteps: int = 1000
    """Diffusion steps T of training."""
    cosine_s: float = 0.008
    """Offset of the cosine schedule (Nichol & Dhariwal)."""
    sampling_steps: int = 50
    """DDIM steps when sampling (a subset of the T, evenly strided); fewer is faster."""
    eta: float = 1.0
    """DDIM stochasticity: 0 deterministic, 1 DDPM-like (DanceCamera3D)."""
    guidance_dance: float = 1.75
    """Weight of the dance condition (DanceCamera3D's w1)."""
    guidance_music: float = 1.0
    """Weight of the music given the dance (DanceCamera3D's w2)."""
    guidance_ramp: bool = True
    """Ramp the guidance from 0 at the noisiest step to full weight half-way (DanceCamera3D's long mode)."""
    clip_x0: float | None = 5.0
    """Clamp predicted x0 to +- this (in normalised units; None: no clamp)."""
    prediction: Literal["x0", "v"] = "x0"
    """What the network outputs: ``x0`` (DanceCamera3D) or ``v = sqrt(ab) eps - sqrt(1 - ab) x0``
    (Salimans & Ho), read as ``x0 = sqrt(ab) x_t - sqrt(1 - ab) v`` (the losses stay on x0 either way).
    On the quick corpus x0 gave the smoother cameras (the README has the figures)."""

    def __post_init__(self) -> None:
        if not is_positive_int(self.timesteps) or self.timesteps < 2:
            raise ValueError(f"DiffusionConfig.timesteps must be an integer >= 2, got {self.timesteps!r}")
        if not is_positive_int(self.sampling_steps) or self.sampling_steps > self.timesteps:
            raise ValueError(f"DiffusionConfig.sampling_steps must be an integer in 1..{self.timesteps}, "
                             f"got {self.sampling_steps!r}")
        if not (is_non_negative(self.cosine_s) and self.cosine_s < 1):
            raise ValueError(f"DiffusionConfig.cosine_s must be in [0, 1), got {self.cosine_s!r}")
        if not (is_non_negative(self.eta) and self.eta <= 1):
            raise ValueError(f"DiffusionConfig.eta must be in [0, 1], got {self.eta!r}")
        for name in ("guidance_dance", "guidance_music"):
            if not is_non_negative(getattr(self, name)):
                raise ValueError(f"DiffusionConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.prediction not in ("x0", "v"):
            raise ValueError(f"DiffusionConfig.prediction must be 'x0' or 'v', got {self.prediction!r}")
        if self.clip_x0 is not None and not (is_non_negative(self.clip_x0) and self.clip_x0 > 0):
            raise ValueError(f"DiffusionConfig.clip_x0 must be > 0 or None, got {self.clip_x0!r}")


def cosine_alpha_bar(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """(T,) cumulative signal fractions alpha_bar_t of the cosine schedule, float64, with each step's
    beta clipped to 0.999 as in improved DDPM."""
    steps = torch.arange(timesteps + 1, dtype=torch.float64)
    f = torch.cos((steps / timesteps + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0)


def q_sample(x0: torch.Tensor, t: torch.Tensor, alpha_bar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) noise; ``t`` (B,), ``x0`` (B, ...)."""
    ab = alpha_bar.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def to_x0(output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, alpha_bar: torch.Tensor,
          prediction: str) -> torch.Tensor:
    """The network's output (B, T, C) at steps ``t`` (B,) as the predicted clean x0."""
    if prediction == "x0":
        return output
    ab = alpha_bar.to(x_t.device)[t].to(x_t.dtype).view(-1, *([1] * (x_t.dim() - 1)))
    return ab.sqrt() * x_t - (1 - ab).sqrt() * output


def ddim_timesteps(timesteps: int, steps: int) -> list[int]:
    """The noise levels visited, noisiest first: ``steps`` evenly spaced from T-1 down to 0. The last
    prediction is made from the least noisy level (DanceCamera3D's 999, 979, ..., 19 stops at 19, whose
    noise, 4% of the signal's scale, whatever the network does not remove, is frame-to-frame jitter in
    the camera; at 20 steps its last level would be 49, 10%)."""
    if steps == 1:
        return [timesteps - 1]
    return [int(round((timesteps - 1) * (1 - i / (steps - 1)))) for i in range(steps)]


def guidance_weights(config: DiffusionConfig, index: int, steps: int) -> tuple[float, float]:
    """(w_dance, w_music) at sampling step ``index`` of ``steps`` (0 = noisiest)."""
    wd, wm = config.guidance_dance, config.guidance_music
    if not config.guidance_ramp or steps < 2:
        return wd, wm
    ramp = index / (steps - 1)  # linspace(0, 2w) capped at w: full weight from the midpoint on
    return min(wd, 2 * wd * ramp), min(wm, 2 * wm * ramp)


@torch.no_grad()
def ddim_sample(denoise: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor], shape: tuple[int, ...],
                config: DiffusionConfig, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu", steps: int | None = None,
                after_step: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
                progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """DDIM from pure noise to x0.

    Args:
        denoise: ``(x_t, t (B,), step index) -> x0`` (the guided prediction).
        shape: (B, T, C).
        steps: sampling steps (default ``config.sampling_steps``).
        after_step: ``(x, level) -> x`` applied to every x_t (``level`` its step t) and to the final
            x0 (``level`` -1): inpainting, window stitching.
        progress: called with the step index after each step.

    Returns:
        x0 (B, T, C) in the network's normalised units.
    """
    steps = config.sampling_steps if steps is None else int(steps)
    if not 1 <= steps <= config.timesteps:
        raise ValueError(f"sampling steps must be in 1..{config.timesteps}, got {steps}")
    alpha_bar = cosine_alpha_bar(config.timesteps, config.cosine_s)
    levels = ddim_timesteps(config.timesteps, steps)
    x = torch.randn(shape, generator=generator, device="cpu").to(device)
    stitch = after_step or (lambda v, level: v)
    x = stitch(x, levels[0])
    B = shape[0]
    for i, t in enumerate(levels):
        x0 = denoise(x, torch.full((B,), t, dtype=torch.long, device=device), i)
        if config.clip_x0 is not None:
            x0 = x0.clamp(-config.clip_x0, config.clip_x0)
        if i == len(levels) - 1:
            x = stitch(x0, -1)
        else:
            ab_t, ab_prev = float(alpha_bar[t]), float(alpha_bar[levels[i + 1]])
            eps = (x - math.sqrt(ab_t) * x0) / math.sqrt(1 - ab_t)
            sigma = config.eta * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
            noise = torch.randn(shape, generator=generator, device="cpu").to(device) if sigma > 0 else 0.0
            x = math.sqrt(ab_prev) * x0 + math.sqrt(max(1 - ab_prev - sigma ** 2, 0.0)) * eps + sigma * noise
            x = stitch(x, levels[i + 1])
        if progress is not None:
            progress(i)
    return x


# --------------------------------------------------------------------------------------------------
# Whole songs: overlapping windows stitched by inpainting
# --------------------------------------------------------------------------------------------------
def window_starts(num_frames: int, window: int, hop: int) -> list[int]:
    """First frames of the windows that cover ``num_frames``: every ``hop`` frames, the last one
    ending on the last frame (a song no longer than a window: one window at 0)."""
    if not (is_positive_int(window) and is_positive_int(hop) and hop <= window):
        raise ValueError(f"need 1 <= hop <= window, got hop {hop}, window {window}")
    if num_frames <= window:
        return [0]
    starts = list(range(0, num_frames - window + 1, hop))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return starts


def cut_windows(x: torch.Tensor, starts: list[int], window: int) -> torch.Tensor:
    """(B, T, ...) -> (B * n, window, ...), window-major within each sequence; a sequence shorter than
    the window is padded with its last frame."""
    if x.shape[1] < window:
        pad = x[:, -1:].expand(-1, window - x.shape[1], *x.shape[2:])
        x = torch.cat([x, pad], dim=1)
    return torch.stack([x[:, s:s + window] for s in starts], dim=1).flatten(0, 1)


def stitch_windows(x: torch.Tensor, starts: list[int], batch: int) -> torch.Tensor:
    """Inpainting with a ramp: over each overlap, window k's frames become window k-1's fading into
    its own (k-1's weight falling linearly from 1 to 0 across the overlap), in order, so the agreement
    chains through every window. (batch * n, W, C) -> the same; :func:`join_windows` then takes each
    frame from the last window that holds it.

    A hard copy of the overlap (EDGE's) leaves a step inside window k where the copied frames end and
    its own begin, which a denoiser that keeps its input at low noise keeps to the end: a false cut
    every hop. With the ramp there is no step to keep."""
    n = len(starts)
    if n == 1:
        return x
    W = x.shape[1]
    x = x.view(batch, n, W, *x.shape[2:]).clone()
    for k in range(1, n):
        overlap = starts[k - 1] + W - starts[k]  # frames both windows hold
        if overlap > 0:
            own = torch.linspace(0, 1, overlap + 2, dtype=x.dtype, device=x.device)[1:-1]
            own = own.view(overlap, *([1] * (x.dim() - 3)))
            x[:, k, :overlap] = (1 - own) * x[:, k - 1, W - overlap:] + own * x[:, k, :overlap]
    return x.flatten(0, 1)


def join_windows(x: torch.Tensor, starts: list[int], batch: int, num_frames: int) -> torch.Tensor:
    """(batch * n, W, C) windows -> (batch, num_frames, C): each frame from the last window that holds
    it (after :func:`stitch_windows`, the one that holds the ramp)."""
    n, W = len(starts), x.shape[1]
    x = x.view(batch, n, W, *x.shape[2:])
    out = x.new_empty(batch, max(num_frames, W), *x.shape[3:])
    for k in range(n):
        out[:, starts[k]:starts[k] + W] = x[:, k]
    return out[:, :num_frames]


__all__ = ["DiffusionConfig", "cosine_alpha_bar", "q_sample", "to_x0", "ddim_timesteps", "guidance_weights", "ddim_sample",
           "window_starts", "cut_windows", "stitch_windows", "join_windows"]
