"""Foot skating against hand-made motions: a foot planted, a foot sliding on the floor, a foot in the air."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.skating import foot_contact_steps, foot_skating


def feet_motion(T: int = 31, fps: float = 30.0, slide: float = 0.0, lift: float = 0.0) -> np.ndarray:
    """24 joints at rest; the four foot joints on the floor (y = 0) sliding along x at ``slide`` m/s,
    raised by ``lift`` m."""
    x = np.zeros((T, 24, 3))
    x[:, :, 1] = 1.0  # the body well above the floor
    t = np.arange(T) / fps
    for j in (7, 8, 10, 11):
        x[:, j, 0] = slide * t
        x[:, j, 1] = lift
    return x


def test_a_planted_foot_does_not_skate():
    r = foot_skating(feet_motion(), 30.0)
    assert r["slip_rate"] == 0.0 and r["contact_speed"] == pytest.approx(0.0) and r["contact_fraction"] == 1.0


def test_a_sliding_foot_skates_at_its_speed():
    r = foot_skating(feet_motion(slide=0.5), 30.0)
    assert r["slip_rate"] == 1.0 and r["contact_speed"] == pytest.approx(0.5)
    slow = foot_skating(feet_motion(slide=0.1), 30.0)  # below the 0.2 m/s threshold: contact, no slip
    assert slow["slip_rate"] == 0.0 and slow["contact_speed"] == pytest.approx(0.1)


def test_a_foot_in_the_air_is_not_in_contact():
    x = feet_motion(slide=1.0)
    x[:, [8, 11], 1] = 0.3  # the right foot lifted and moving: only the left counts
    x[:, [8, 11], 0] = 0.0
    contact, speed = foot_contact_steps(x, 30.0)
    assert contact.shape == (30, 4) and contact[:, [0, 2]].all() and not contact[:, [1, 3]].any()
    assert foot_skating(x, 30.0)["contact_fraction"] == 0.5


def test_batched_and_frame_rate_free():
    a = foot_skating(np.stack([feet_motion(slide=0.5), feet_motion()]), 30.0)
    assert a["slip_rate"].tolist() == [1.0, 0.0]
    b = foot_skating(feet_motion(T=61, fps=60.0, slide=0.5), 60.0)
    assert b["contact_speed"] == pytest.approx(0.5)
