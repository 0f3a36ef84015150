"""Both beat-alignment forms on beats exactly on / off, motion-beat extraction, and PFC by hand."""

import numpy as np
import pytest

from metrics.beat import (
    bailando_bas, bailando_motion_beats, fact_beat_align, fact_motion_beats, mean_score, motion_centric_score,
    music_centric_score, pfc_score, pfc_sequence,
)


def test_beats_exactly_on_and_off():
    music = np.array([10, 40, 70])
    assert music_centric_score(music, music) == 1.0
    assert motion_centric_score(music, music) == 1.0
    off = music + 3  # 3 frames late = one sigma
    assert music_centric_score(music, off, sigma=3) == pytest.approx(np.exp(-0.5))
    assert motion_centric_score(music, off, sigma=3) == pytest.approx(np.exp(-0.5))


def test_the_two_definitions_are_not_symmetric():
    music = np.array([10, 20, 30])
    motion = np.array([10])  # one motion beat, on the first music beat
    # music-centric: every music beat looks for its nearest motion beat (0, 10, 20 frames away)
    expect = (1 + np.exp(-100 / 18) + np.exp(-400 / 18)) / 3
    assert music_centric_score(music, motion) == pytest.approx(expect)
    # motion-centric: the single motion beat is on a music beat
    assert motion_centric_score(music, motion) == 1.0


def test_undefined_cases():
    assert np.isnan(music_centric_score([], [3]))
    assert music_centric_score([3], []) == 0.0
    assert motion_centric_score([3], []) == 0.0
    assert mean_score([0.5, float("nan"), 1.0]) == (0.75, 1)


def _swing(period: float, T: int = 600) -> np.ndarray:
    """Three joints swinging as cos(pi t / P): zero speed every P frames."""
    t = np.arange(T)
    x = np.zeros((T, 3, 3))
    x[:, :, 0] = np.cos(np.pi * t / period)[:, None] * np.array([0.3, 0.2, 0.1])
    return x


def test_motion_beats_land_on_the_swing_stops():
    period = 25.7  # frames; not an integer so no two speed samples tie
    x = _swing(period)
    stops = np.arange(1, int(600 / period) + 1) * period
    for beats in (bailando_motion_beats(x), fact_motion_beats(x, order=5)):
        assert len(beats) >= 20
        nearest = np.min(np.abs(beats[:, None] - stops[None, :]), axis=1)
        assert nearest.max() <= 1.0
    music = np.round(stops).astype(int)
    assert bailando_bas(x, music) > 0.9
    assert fact_beat_align(x, music, order=5) > 0.9


def test_bailando_truncates_music_beats_to_the_speed_curve():
    x = _swing(25.7, T=200)
    inside = bailando_bas(x, np.round(np.arange(1, 7) * 25.7).astype(int))
    with_late = bailando_bas(x, np.r_[np.round(np.arange(1, 7) * 25.7).astype(int), 199, 250])
    assert inside == with_late  # beats at >= T - 1 are dropped, as the reference's [:T-1]


def _feet_and_root(root_x, root_y=None, foot_steps=(0.1, 0.2, 0.3, 0.05)) -> np.ndarray:
    T = len(root_x)
    j = np.zeros((T, 24, 3))
    j[:, 0, 0] = root_x
    if root_y is not None:
        j[:, 0, 1] = root_y
    for k, joint in enumerate((7, 10, 8, 11)):  # each foot joint slides at its own speed along z
        j[:, joint, 2] = foot_steps[k] * np.arange(T)
    return j


def test_pfc_hand_value():
    # root x = 0, 0, 0, 1: accelerations (frames 1, 2) 0 and 1 after normalising by the max;
    # min(left ankle 0.1, toe 0.2) * min(right 0.3, 0.05) * [0, 1] -> mean 0.0025
    j = _feet_and_root([0.0, 0.0, 0.0, 1.0])
    assert pfc_sequence(j) == pytest.approx(0.0025)
    assert pfc_score([pfc_sequence(j), 0.0]) == pytest.approx(12.5)  # mean x 10^4


def test_pfc_ignores_falling():
    down = _feet_and_root([0.0] * 4, root_y=[0.0, 0.0, 0.0, -1.0])
    up = _feet_and_root([0.0] * 4, root_y=[0.0, 0.0, 0.0, 1.0])
    assert pfc_sequence(down) == 0.0
    assert pfc_sequence(up) == pytest.approx(0.0025)
    planted = _feet_and_root([0.0, 0.0, 0.0, 1.0], foot_steps=(0.0, 0.2, 0.3, 0.05))
    assert pfc_sequence(planted) == 0.0  # a planted left ankle: no penalty
