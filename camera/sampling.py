"""Film a whole dance: the camera for every frame of a song of any length, from the trained denoiser.

The dance and the music are cut into the model's windows (:func:`camera.diffusion.window_starts`:
a hop apart, the last window on the last frame), the windows are denoised together, stitched after
every step by inpainting with a ramp over the overlaps (:func:`camera.diffusion.stitch_windows`), and
joined: frames out = frames in. Memory grows with the windows denoised at once, so a long song goes in groups of at most
``max_windows`` windows: a group starts with the last window of the one before, whose frames are
known by then and are put back at every step at that step's noise level (replacement inpainting), so
the groups join without a seam and a 10-minute song needs the memory of a few windows, not of all.
"""

from __future__ import annotations

from typing import Callable

import torch

from camera.diffusion import (DiffusionConfig, cosine_alpha_bar, cut_windows, ddim_sample, guidance_weights,
                              join_windows, q_sample, stitch_windows, to_x0, window_starts)
from camera.model import CameraDenoiser
from camera.representation import Normalizer, dance_features


@torch.no_grad()
def film_features(net: CameraDenoiser, norm: Normalizer, joints: torch.Tensor, music: torch.Tensor,
                  config: DiffusionConfig, steps: int | None = None, hop: int | None = None,
                  generator: torch.Generator | None = None, max_windows: int = 64, use_dance: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Camera features for whole dances.

    Args:
        net: the denoiser (eval mode is set here).
        norm: the fitted normaliser.
        joints: (B, T, 60, 3) the dancers' MMD bones, DCM units; music (B, T, F) at the same frames.
        config: schedule, guidance and default step count.
        steps: DDIM steps (default ``config.sampling_steps``).
        hop: frames between window starts (default half a window, DanceCamera3D's long mode).
        max_windows: windows (of all songs together) denoised at once; more are done in groups.
        use_dance: False films from the music alone (the dance-dropped pass the model was trained
            with; a baseline that shows what watching the dancer adds). Guidance is then off.
        progress: called after every sampling step with (steps done, steps in all groups).

    Returns:
        (B, T, 10) camera features (:mod:`camera.representation`), every frame covered.
    """
    net.eval()
    W = net.config.window
    B, T = joints.shape[:2]
    hop = W // 2 if hop is None else int(hop)
    starts = window_starts(T, W, hop)
    p = next(net.parameters())
    joints_w = cut_windows(joints, starts, W).to(p.device, torch.float32)  # (B*n, W, 60, 3)
    dance = norm.dance(dance_features(joints_w)).to(p.dtype)  # features per window (travel about its mean)
    music_w = norm.music(cut_windows(music, starts, W).to(p.device, torch.float32)).to(p.dtype)
    steps = config.sampling_steps if steps is None else int(steps)
    n = len(starts)
    dance, music_w = (a.view(B, n, *a.shape[1:]) for a in (dance, music_w))
    alpha_bar = cosine_alpha_bar(config.timesteps, config.cosine_s)
    per_group = max(2, int(max_windows) // B)  # windows of each song per group (one is shared)
    done = torch.empty(B, n, W, 10, device=p.device)  # x0 of every window, normalised
    groups = 1 if n <= per_group else 1 + -(-(n - per_group) // (per_group - 1))
    first, group_index = 0, 0
    while True:
        last = min(n, first + per_group)
        group = starts[first:last]
        known = done[:, first] if first else None  # the shared window, finished by the previous group
        g = len(group)

        def denoise(x_t: torch.Tensor, t: torch.Tensor, i: int) -> torch.Tensor:
            d, m = dance[:, first:last].flatten(0, 1), music_w[:, first:last].flatten(0, 1)
            if not use_dance:
                keep = torch.ones(len(x_t), dtype=torch.bool, device=x_t.device)
                out = net(x_t.to(p.dtype), t, d, m, ~keep, keep).float()
            else:
                wd, wm = guidance_weights(config, i, steps)
                # guidance combines outputs; x0 is affine in the output at a given x_t, so combining
                # v predictions and combining the x0 they give are the same
                out = net.guided(x_t.to(p.dtype), t, d, m, wd, wm).float()
            return to_x0(out, x_t, t, alpha_bar, config.prediction)

        def after_step(x: torch.Tensor, level: int) -> torch.Tensor:
            if known is not None:
                x = x.view(B, g, W, 10).clone()
                if level < 0:
                    x[:, 0] = known
                else:
                    t = torch.full((B,), level, dtype=torch.long, device=x.device)
                    noise = torch.randn(known.shape, generator=generator).to(x.device)
                    x[:, 0] = q_sample(known, t, alpha_bar, noise)
                x = x.flatten(0, 1)
            return stitch_windows(x, group, B)

        x0 = ddim_sample(denoise, (B * g, W, 10), config, generator=generator, device=p.device, steps=steps,
                         after_step=after_step,
                         progress=None if progress is None else
                         (lambda i, k=group_index: progress(k * steps + i + 1, groups * steps)))
        done[:, first:last] = x0.view(B, g, W, 10)
        if last == n:
            break
        first, group_index = last - 1, group_index + 1
    return norm.camera_back(join_windows(done.flatten(0, 1), starts, B, T))  # (B, T, 10)


__all__ = ["film_features"]
