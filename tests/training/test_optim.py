"""The optimiser config's checks and the schedule's values against hand-computed ones."""

import math

import pytest
import torch

from training.optim import OptimizerConfig, build_optimizer, lr_factor


def test_config_rejects_nonsense():
    for bad in ({"name": "sgd"}, {"lr": 0}, {"betas": (0.9,)}, {"betas": (0.9, 1.0)}, {"scheduler": "step"},
                {"milestones": [5, 2]}, {"gamma": 0.0}, {"warmup_steps": -1}, {"warmup_steps": 1.5},
                {"min_lr_ratio": 2.0}, {"weight_decay": -1.0}, {"fused": "yes"}):
        with pytest.raises(ValueError):
            OptimizerConfig(**bad)
    assert OptimizerConfig(betas=[0.9, 0.95]).betas == (0.9, 0.95)  # YAML lists become tuples


def test_multistep_by_epoch_with_warmup():
    c = OptimizerConfig(scheduler="multistep", milestones=[2, 4], gamma=0.5, warmup_steps=4)
    assert lr_factor(c, step=0, epoch=0, total_steps=100) == pytest.approx(0.25)  # (0 + 1) / 4
    assert lr_factor(c, step=3, epoch=0, total_steps=100) == pytest.approx(1.0)
    assert lr_factor(c, step=50, epoch=2, total_steps=100) == pytest.approx(0.5)  # milestone 2 passed
    assert lr_factor(c, step=50, epoch=5, total_steps=100) == pytest.approx(0.25)


def test_cosine_from_the_end_of_warmup_to_the_floor():
    c = OptimizerConfig(scheduler="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(c, step=10, epoch=0, total_steps=110) == pytest.approx(1.0)
    half = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert lr_factor(c, step=60, epoch=0, total_steps=110) == pytest.approx(half)
    assert lr_factor(c, step=500, epoch=0, total_steps=110) == pytest.approx(0.1)
    assert lr_factor(OptimizerConfig(scheduler="none"), 7, 3, 10) == 1.0


def test_built_optimizer_follows_the_schedule_per_step():
    w = torch.nn.Parameter(torch.zeros(2))
    c = OptimizerConfig(name="adamw", lr=0.1, betas=(0.9, 0.99), weight_decay=0.01, scheduler="multistep",
                        milestones=[1], gamma=0.1, warmup_steps=2)
    epoch = [0]
    opt, sched = build_optimizer([w], c, total_steps=10, epoch=lambda: epoch[0])
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.01
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)  # warm-up step 0 of 2
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    epoch[0] = 1  # the live epoch counter is read when the scheduler steps
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def test_fused_update_where_the_device_has_one_and_the_same_step():
    torch.manual_seed(0)
    grads = [torch.randn(4, 3), torch.randn(3)]
    results = []
    for fused in (True, False):
        params = [torch.nn.Parameter(torch.ones(4, 3)), torch.nn.Parameter(torch.zeros(3))]
        opt, _ = build_optimizer(params, OptimizerConfig(lr=0.1, scheduler="none", fused=fused), 10, lambda: 0)
        assert bool(opt.defaults.get("fused")) is fused
        for _ in range(3):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            opt.step()
        results.append([p.detach().clone() for p in params])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
