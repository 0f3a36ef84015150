"""The beat-alignment plot: a PNG of the stated size, marking exactly the beats metrics.beat scores."""

import struct

import numpy as np
import pytest

from data.errors import InputError
from metrics.beat import bailando_bas, bailando_motion_beats, bailando_speed_curve
from metrics.duet import beat_echo_degree
from metrics.plots import beat_alignment_plot, beat_trace


def _swing(period: float, T: int = 300, J: int = 4, phase: float = 0.0) -> np.ndarray:
    """Joints swinging as cos(pi t / P): zero speed every P frames."""
    t = np.arange(T)
    x = np.zeros((T, J, 3))
    x[:, :, 0] = np.cos(np.pi * (t + phase) / period)[:, None] * np.linspace(0.1, 0.3, J)
    x[:, :, 1] = np.linspace(0.0, 1.5, J)
    return x


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_trace_is_what_bailando_bas_scores():
    x = _swing(25.7)
    music = np.array([-4, 0, 26, 51, 77, 103, 298, 299, 400])  # some outside the (T-1)-long curve
    tr = beat_trace(x, music)
    np.testing.assert_array_equal(tr.motion_beats, bailando_motion_beats(x))
    np.testing.assert_array_equal(tr.speed, bailando_speed_curve(x))
    np.testing.assert_array_equal(tr.music_beats, [0, 26, 51, 77, 103, 298])
    assert tr.bas == bailando_bas(x, music)
    assert len(tr.motion_beats) >= 10


def test_writes_a_png_of_the_stated_size(tmp_path):
    x = _swing(25.7)
    out = beat_alignment_plot(x, 60, [26, 51, 77], tmp_path / "plots" / "solo.png", title="a <title> & more",
                              size=(900, 300))
    assert out == tmp_path / "plots" / "solo.png"
    assert _png_size(out) == (900, 300)
    assert [p.name for p in out.parent.iterdir()] == ["solo.png"]  # no temporary left behind


def test_duet_panel(tmp_path):
    follower, leader = _swing(25.7), _swing(25.7, T=280, J=6, phase=3.0)
    out = beat_alignment_plot(follower, 30, [], tmp_path / "duet.png", leader=leader)
    assert _png_size(out) == (1200, 720)
    assert np.isfinite(beat_echo_degree(follower, leader))


@pytest.mark.parametrize("joints, fps, beats, match", [
    (np.zeros((50, 4)), 60, [1], "must be \\(T, J, 3\\)"),
    (np.zeros((50, 4, 2)), 60, [1], "must be \\(T, J, 3\\)"),
    (np.zeros((2, 4, 3)), 60, [1], "at least 3"),
    (np.full((50, 4, 3), np.nan), 60, [1], "NaN"),
    (np.zeros((50, 4, 3)), 60, [1.0, np.nan], "NaN"),
    (np.zeros((50, 4, 3)), 60, [0.5, 1.0], "frame indices"),
    (np.zeros((50, 4, 3)), 0, [1], "fps"),
    (np.zeros((50, 4, 3)), float("nan"), [1], "fps"),
])
def test_bad_input_is_an_input_error_and_writes_nothing(tmp_path, joints, fps, beats, match):
    with pytest.raises(InputError, match=match):
        beat_alignment_plot(joints, fps, beats, tmp_path / "bad.png")
    assert not any(tmp_path.iterdir())


def test_bad_leader_is_an_input_error(tmp_path):
    leader = _swing(20.0)
    leader[5, 1, 0] = np.inf
    with pytest.raises(InputError, match="leader holds"):
        beat_alignment_plot(_swing(25.7), 30, [3], tmp_path / "bad.png", leader=leader)
    assert not any(tmp_path.iterdir())
