"""Body capsules: the segment distance against hand cases and brute force, the gap between two bodies."""

import numpy as np
import pytest

from data.contact import _capsule_segments, capsule_contact, capsule_gap, segment_distance
from data.skeleton import get_skeleton


def test_segment_distance_cases():
    p0, p1 = np.array([0.0, 0, 0]), np.array([1.0, 0, 0])
    assert segment_distance(p0, p1, np.array([0.0, 1, 0]), np.array([1.0, 1, 0])) == pytest.approx(1.0)  # parallel
    assert segment_distance(p0, p1, np.array([0.5, -1, 2]), np.array([0.5, 1, 2])) == pytest.approx(2.0)  # crossing
    assert segment_distance(p0, p1, np.array([3.0, 4, 0]), np.array([3.0, 4, 0])) == pytest.approx(np.hypot(2, 4))
    assert segment_distance(p0, p0, np.array([0.0, 3, 4]), np.array([0.0, 3, 4])) == pytest.approx(5.0)
    rng = np.random.default_rng(0)
    a0, a1, b0, b1 = (rng.normal(size=(80, 3)) for _ in range(4))
    s = np.linspace(0, 1, 151)
    pa = a0[:, None] + (a1 - a0)[:, None] * s[None, :, None]  # (80, 151, 3) samples on each segment
    pb = b0[:, None] + (b1 - b0)[:, None] * s[None, :, None]
    brute = np.linalg.norm(pa[:, :, None] - pb[:, None, :], axis=-1).min(axis=(1, 2))
    exact = segment_distance(a0, a1, b0, b1)
    assert np.all(exact <= brute + 1e-12) and np.all(brute - exact < 0.03)


def test_capsule_contact_far_near_and_gap():
    body = np.repeat(get_skeleton("smpl24").rest_joints()[None], 4, axis=0)
    far = body + np.array([3.0, 0.0, 0.0])
    assert not capsule_contact(body, far).any()
    assert capsule_contact(body, body + np.array([0.0, 0.0, 0.2])).all()
    # the gap against a brute-force one: points sampled along every capsule axis, minus the radii
    other = body[:1] + np.array([0.35, 0.1, 0.25])
    a0, a1, ra = _capsule_segments(body[:1])
    b0, b1, rb = _capsule_segments(other)
    s = np.linspace(0, 1, 61)[:, None]
    pa = a0[0][:, None] + (a1 - a0)[0][:, None] * s  # (C, 61, 3)
    pb = b0[0][:, None] + (b1 - b0)[0][:, None] * s
    d = np.linalg.norm(pa[:, None, :, None] - pb[None, :, None, :], axis=-1).min(axis=(2, 3))  # (C, C)
    brute = (d - ra[:, None] - rb[None, :]).min()
    exact = capsule_gap(body[:1], other)[0]
    assert exact <= brute + 1e-12 and brute - exact < 0.005
