"""The camera diffusion: schedule, DDIM, guidance, and whole songs from overlapping windows."""

import math

import pytest
import torch

from camera.diffusion import (DiffusionConfig, cosine_alpha_bar, cut_windows, ddim_sample, ddim_timesteps,
                              guidance_weights, join_windows, q_sample, stitch_windows, window_starts)


def test_cosine_schedule_and_noising():
    ab = cosine_alpha_bar(1000)
    assert ab.shape == (1000,) and ab.dtype == torch.float64
    assert torch.all(ab[1:] < ab[:-1]) and 0.999 < ab[0] < 1 and ab[-1] < 1e-4
    # improved DDPM's closed form at a middle step (betas unclipped there)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert ab[499].item() == pytest.approx(f(500) / f(0), rel=1e-9)
    x0, noise = torch.ones(2, 3, 4), torch.randn(2, 3, 4)
    t = torch.tensor([0, 999])
    x = q_sample(x0, t, ab, noise)
    assert torch.allclose(x[0], ab[0].sqrt().float() * x0[0] + (1 - ab[0]).sqrt().float() * noise[0])


def test_ddim_levels_and_guidance_ramp():
    levels = ddim_timesteps(1000, 50)
    assert levels[:3] == [999, 979, 958] and levels[-1] == 0 and len(set(levels)) == 50
    assert ddim_timesteps(1000, 1) == [999] and ddim_timesteps(1000, 2) == [999, 0]
    c = DiffusionConfig(guidance_dance=1.75, guidance_music=1.0)
    assert guidance_weights(c, 0, 50) == (0.0, 0.0)
    assert guidance_weights(c, 49, 50) == (1.75, 1.0) and guidance_weights(c, 25, 50) == (1.75, 1.0)
    assert guidance_weights(DiffusionConfig(guidance_ramp=False), 0, 50) == (1.75, 1.0)
    for bad in (dict(sampling_steps=0), dict(timesteps=10, sampling_steps=11), dict(eta=2.0),
                dict(guidance_dance=-1.0), dict(clip_x0=0.0)):
        with pytest.raises(ValueError):
            DiffusionConfig(**bad)


def test_ddim_with_a_perfect_denoiser_returns_its_answer():
    target = torch.linspace(-1, 1, 24).view(1, 8, 3)
    for eta in (0.0, 1.0):
        out = ddim_sample(lambda x, t, i: target.expand_as(x), (2, 8, 3), DiffusionConfig(sampling_steps=5, eta=eta),
                          generator=torch.Generator().manual_seed(0))
        assert torch.allclose(out, target.expand(2, 8, 3))
    calls = []
    ddim_sample(lambda x, t, i: torch.zeros_like(x), (1, 4, 2), DiffusionConfig(sampling_steps=7),
                progress=calls.append)
    assert calls == list(range(7))


def test_window_starts_cover_every_frame_tail_included():
    assert window_starts(100, 150, 75) == [0]
    assert window_starts(150, 150, 75) == [0]
    assert window_starts(151, 150, 75) == [0, 1]
    assert window_starts(400, 150, 75) == [0, 75, 150, 225, 250]
    for T in (151, 299, 300, 301, 1000):
        s = window_starts(T, 150, 75)
        covered = torch.zeros(T, dtype=torch.bool)
        for a in s:
            covered[a:a + 150] = True
        assert covered.all() and s[-1] + 150 == T
    with pytest.raises(ValueError):
        window_starts(10, 5, 6)


def test_windows_cut_and_join_back_to_the_sequence():
    T, W = 230, 60
    starts = window_starts(T, W, 30)
    x = torch.arange(2 * T, dtype=torch.float32).view(2, T, 1)
    w = cut_windows(x, starts, W)  # (2 * n, W, 1)
    assert w.shape == (2 * len(starts), W, 1)
    assert torch.equal(join_windows(w, starts, 2, T), x)
    # windows that agree are left as they are by the stitch
    assert torch.allclose(join_windows(stitch_windows(w, starts, 2), starts, 2, T), x, atol=1e-4)
    # a sequence shorter than a window is padded with its last frame, then cut back
    short = torch.arange(10.0).view(1, 10, 1)
    ws = cut_windows(short, [0], 16)
    assert ws.shape == (1, 16, 1) and torch.all(ws[0, 10:] == 9)
    assert torch.equal(join_windows(ws, [0], 1, 10), short)


def test_the_stitch_ramps_each_window_in_over_its_overlap_and_leaves_no_seam():
    T, W = 200, 60
    starts = window_starts(T, W, 30)  # 0, 30, ..., 120, then 140 on the last frame
    n = len(starts)
    # every window predicts a flat line at its own level: joined as they are, each start is a jump
    w = torch.stack([torch.full((W, 1), float(10 * k)) for k in range(n)])  # (n, W, 1)
    hard = join_windows(w, starts, 1, T)[0, :, 0]
    assert hard.diff().abs().max() == 10.0
    stitched = stitch_windows(w, starts, 1).view(n, W, 1)
    for k in range(1, n):  # window k starts at window k-1's value and ends the overlap at its own
        overlap = starts[k - 1] + W - starts[k]
        assert abs(stitched[k, 0, 0] - stitched[k - 1, W - overlap, 0]) <= 10.0 / 30 + 1e-5
        assert abs(stitched[k, overlap - 1, 0] - 10 * k) < 10.0 / overlap + 1e-5
    soft = join_windows(stitched, starts, 1, T)[0, :, 0]
    # no step above two ramps' slopes (10 over 30 frames), where the last window, on the last frame, starts
    # inside the previous ramp
    assert soft.diff().abs().max() <= 2 * 10.0 / 30 + 1e-5
    assert soft[0] == 0 and soft[-1] == 10 * (n - 1)
