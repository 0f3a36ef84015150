"""Sparse VMD camera keys: cut detection, the keyframe fit's bound on every frame, cuts as key pairs one
frame apart, curves on the key that drives them, unwrapped spins, integer view angles, and bad configs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from camera import keyframes
from camera.keyframes import (KeyframeConfig, curve_weights, detect_cuts, fit_keyframes, keyframe_report,
                              sparse_polar, track_to_sparse_vmd)
from camera.vmd import CAMERA_MODEL_NAME, LINEAR, CameraKey, Curve, Vmd, read_vmd, vmd_to_track, write_vmd
from data.camera import CameraTrack
from data.synth.camera import generate_camera

FPS = 30.0
CFG = KeyframeConfig()


def track(distance, interest, rotation, fov) -> CameraTrack:
    n = len(distance)
    return CameraTrack(distance=distance, interest=np.broadcast_to(interest, (n, 3)),
                       rotation=np.broadcast_to(rotation, (n, 3)), fov=np.broadcast_to(fov, (n,)), fps=FPS)


def max_errors(reference: CameraTrack, rebuilt: CameraTrack) -> dict[str, float]:
    """Largest error per channel group, from the polar arrays directly (independent of the module)."""
    a, b = reference.polar, rebuilt.polar
    assert a.shape == b.shape
    err = np.abs(a - b)
    return {"interest": err[:, 1:4].max(), "distance": err[:, 0].max(), "rotation_deg": np.degrees(err[:, 4:7].max()),
            "fov": err[:, 7].max()}


def assert_within(reference: CameraTrack, rebuilt: CameraTrack, cfg: KeyframeConfig = CFG) -> dict[str, float]:
    e = max_errors(reference, rebuilt)
    assert e["interest"] <= cfg.interest_tolerance, e
    assert e["distance"] <= cfg.distance_tolerance, e
    assert e["rotation_deg"] <= cfg.rotation_tolerance_deg, e
    assert e["fov"] <= cfg.fov_tolerance_deg, e
    return e


def rebuild(keys, cfg: KeyframeConfig = CFG) -> CameraTrack:
    return vmd_to_track(Vmd(cameras=keys), curve_from=cfg.curve_from)


# --------------------------------------------------------------------------------------------------
# The exact arithmetic the fit is checked with
# --------------------------------------------------------------------------------------------------
def test_batched_weights_and_sparse_track_are_bit_for_bit_vmds():
    rng = np.random.default_rng(0)
    u = np.linspace(0, 1, 37)
    cps = rng.integers(0, 128, size=(20, 4))
    batch = curve_weights(cps[:, None, :], u[None, :])
    for cp, w in zip(cps, batch):
        np.testing.assert_array_equal(w, Curve(*(int(v) for v in cp)).weight(u))
    frames = [0, 7, 8, 30, 31, 32, 60]  # cuts (keys one frame apart) among ordinary segments
    keys = [CameraKey(f, float(-30 - i), tuple(rng.normal(size=3)), tuple(rng.normal(size=3) * 5), int(20 + i),
                      curves=tuple(Curve(*(int(v) for v in rng.integers(0, 128, 4))) for _ in range(6)))
            for i, f in enumerate(frames)]
    for convention in ("later", "earlier"):
        np.testing.assert_array_equal(sparse_polar(keys, convention),
                                      vmd_to_track(Vmd(cameras=keys), curve_from=convention).polar)


# --------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------
def test_a_linear_ramp_needs_only_its_two_end_keys():
    N = 91
    f = np.arange(N, dtype=np.float64)
    cam = track(-40 + f / 6, np.stack([0.1 * f, np.full(N, 10.0), -0.05 * f], 1),
                np.stack([np.full(N, 0.1), f / 60, np.zeros(N)], 1), 30.0)
    assert len(detect_cuts(cam)) == 0  # steady motion is no cut
    keys = fit_keyframes(cam)
    assert [k.frame for k in keys] == [0, 90]
    assert keys[1].interest[0] == pytest.approx(9.0) and keys[1].rotation[1] == pytest.approx(1.5)
    assert all(c == LINEAR for k in keys for c in k.curves)  # MMD's default curve does it
    e = assert_within(cam, rebuild(keys))
    assert e["interest"] < 1e-5 and e["rotation_deg"] < 1e-4  # only float32 rounding left


def test_keys_are_at_most_max_gap_apart():
    N = 700
    f = np.arange(N, dtype=np.float64)
    cam = track(np.full(N, -40.0), np.stack([0.02 * f, np.full(N, 10.0), np.zeros(N)], 1), np.zeros(3), 30.0)
    cfg = KeyframeConfig(max_gap=300)
    keys = fit_keyframes(cam, cfg)
    assert [k.frame for k in keys] == [0, 300, 600, 699]  # greedy: as far as allowed each time
    assert_within(cam, rebuild(keys, cfg), cfg)


@pytest.mark.parametrize("convention", ["later", "earlier"])
def test_an_eased_move_is_recovered_with_two_keys_and_its_curves(convention):
    ease_x = Curve(64, 0, 64, 127)  # ease in and out
    ease_r = Curve(100, 10, 80, 120)
    ease_d = Curve(10, 60, 50, 127)  # fast start
    curves = (ease_x, LINEAR, LINEAR, ease_r, ease_d, LINEAR)
    a = CameraKey(0, -30.0, (0.0, 10.0, 0.0), (0.0, 0.0, 0.0), 30)
    b = CameraKey(60, -50.0, (20.0, 10.0, 0.0), (-0.25, 3.0, 0.0), 30)
    (b if convention == "later" else a).curves = curves  # the key whose curve drives the segment
    cfg = KeyframeConfig(curve_from=convention)
    cam = vmd_to_track(Vmd(cameras=[a, b]), curve_from=convention)
    assert len(detect_cuts(cam, cfg)) == 0
    keys = fit_keyframes(cam, cfg)
    assert [k.frame for k in keys] == [0, 60]
    driver, other = (keys[1], keys[0]) if convention == "later" else (keys[0], keys[1])
    assert other.curves == (LINEAR,) * 6  # drives nothing
    u = np.arange(1, 60) / 60
    for group, true, span, tol in ((0, ease_x, 20.0, CFG.interest_tolerance),
                                   (3, ease_r, 3.0, np.radians(CFG.rotation_tolerance_deg)),
                                   (4, ease_d, 20.0, CFG.distance_tolerance)):
        # the fitted curve is the known one, or one that differs by less than the tolerance on every frame
        assert np.abs(driver.curves[group].weight(u) - true.weight(u)).max() * span <= tol
    assert_within(cam, rebuild(keys, cfg), cfg)
    # read with the other convention the curves drive nothing: the ease is lost, far out of tolerance
    wrong = vmd_to_track(Vmd(cameras=keys), curve_from="earlier" if convention == "later" else "later")
    assert max_errors(cam, wrong)["interest"] > 1.0


def test_a_cut_is_two_keys_one_frame_apart_and_comes_back_as_a_step():
    N, c = 80, 40
    shot_a = (-40.0, (0.0, 10.0, 0.0), (0.0, 0.0, 0.0), 30.0)
    shot_b = (-30.0, (5.0, 12.0, -3.0), (-0.25, 1.25, 0.0), 45.0)
    cam = track(np.r_[np.full(c, shot_a[0]), np.full(N - c, shot_b[0])],
                np.r_[np.tile(shot_a[1], (c, 1)), np.tile(shot_b[1], (N - c, 1))],
                np.r_[np.tile(shot_a[2], (c, 1)), np.tile(shot_b[2], (N - c, 1))],
                np.r_[np.full(c, shot_a[3]), np.full(N - c, shot_b[3])])
    np.testing.assert_array_equal(detect_cuts(cam), [c])
    keys = fit_keyframes(cam)
    assert [k.frame for k in keys] == [0, c - 1, c, N - 1]
    back = rebuild(keys)
    np.testing.assert_array_equal(back.polar[:c], np.tile(cam.polar[0], (c, 1)))  # no blending into the cut
    np.testing.assert_array_equal(back.polar[c:], np.tile(cam.polar[c], (N - c, 1)))
    assert keys[2].view_angle == 45 and keys[1].view_angle == 30


def test_a_three_turn_spin_keeps_its_turns():
    N = 121
    u = np.linspace(0, 1, N)
    ry = 6 * np.pi * u * u * (3 - 2 * u)  # eased: 0 -> 6 pi
    cam = track(np.full(N, -40.0), (0.0, 10.0, 0.0), np.stack([np.full(N, -0.1), ry, np.zeros(N)], 1), 30.0)
    assert len(detect_cuts(cam)) == 0  # a fast spin is motion, not a cut
    keys = fit_keyframes(cam)
    assert len(keys) <= 6
    stored = np.array([k.rotation[1] for k in keys])
    assert (np.diff(stored) > 0).all() and stored[-1] == pytest.approx(6 * np.pi, abs=1e-5)  # never wrapped
    back = rebuild(keys)
    assert_within(cam, back)
    assert back.rotation[-1, 1] > 5.9 * np.pi
    # the linear spin is one segment: two keys 3 turns apart
    lin = track(np.full(N, -40.0), (0.0, 10.0, 0.0), np.stack([np.zeros(N), 6 * np.pi * u, np.zeros(N)], 1), 30.0)
    keys = fit_keyframes(lin)
    assert [k.frame for k in keys] == [0, N - 1] and keys[1].rotation[1] == pytest.approx(6 * np.pi, abs=1e-5)
    assert_within(lin, rebuild(keys))


def test_view_angles_are_whole_degrees_and_the_fov_bound_counts_from_the_real_fov():
    N = 61
    fov = np.r_[np.linspace(30.3, 44.6, 40), np.full(N - 40, 44.6)]  # a zoom in fractional degrees, then held
    cam = track(np.full(N, -40.0), (0.0, 10.0, 0.0), np.zeros(3), fov)
    keys = fit_keyframes(cam, cuts=[])
    assert all(isinstance(k.view_angle, int) for k in keys)
    assert keys[0].view_angle == 30 and keys[-1].view_angle == 45
    assert len(keys) < N / 4
    e = assert_within(cam, rebuild(keys))
    assert e["fov"] >= 0.3  # the key rounding itself is counted (30.3 -> 30, 44.6 -> 45)
    cfg = KeyframeConfig(fov_tolerance_deg=2.0)
    assert len(fit_keyframes(cam, cfg, cuts=[])) <= len(keys)


def test_the_final_check_replaces_a_bad_segment_by_per_frame_keys(monkeypatch):
    N = 50
    f = np.arange(N, dtype=np.float64)
    cam = track(np.full(N, -40.0), np.stack([0.1 * f, np.full(N, 10.0), np.zeros(N)], 1), np.zeros(3), 30.0)
    # a broken segment fitter that accepts a wrong curve: the whole-track check must catch it
    monkeypatch.setattr(keyframes._Fitter, "segment", lambda self, s, e: np.tile([127, 0, 127, 0], (6, 1)))
    keys = fit_keyframes(cam, cuts=[])
    assert [k.frame for k in keys] == list(range(N))
    assert_within(cam, rebuild(keys))


def test_tiny_tracks():
    one = track(np.full(1, -40.0), (0.0, 10.0, 0.0), np.zeros(3), 30.0)
    keys = fit_keyframes(one)
    assert [k.frame for k in keys] == [0]
    two = track(np.array([-40.0, -10.0]), (0.0, 10.0, 0.0), np.zeros(3), 30.0)
    assert [k.frame for k in fit_keyframes(two)] == [0, 1]
    with pytest.raises(ValueError, match="no frames"):
        fit_keyframes(track(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0)))
    with pytest.raises(ValueError, match="cut frames"):
        fit_keyframes(two, cuts=[5])


# --------------------------------------------------------------------------------------------------
# Cut detection
# --------------------------------------------------------------------------------------------------
def _planted_cuts_track() -> tuple[CameraTrack, list[int]]:
    """An orbit, a dolly, a one-frame shot, a static shot and a 3-frame last shot."""
    N, cuts = 150, [50, 100, 101, 147]
    d, P, r = np.full(N, -40.0), np.tile([0.0, 10.0, 0.0], (N, 1)), np.zeros((N, 3))
    u = np.linspace(0, 1, 50)
    r[:50, 1] = 1.2 * u * u * (3 - 2 * u)  # orbit
    d[50:100] = -40 + 20 * u  # dolly in
    r[50:100, 1] = 2.0
    r[100, 1], d[100] = -1.0, -25.0  # a single frame from elsewhere
    P[101:147] = [3.0, 12.0, 2.0]  # static
    r[101:147] = [-0.2, 0.5, 0.0]
    r[147:, 1] = 2.8  # the last shot
    return track(d, P, r, 30.0), cuts


def test_detect_cuts_finds_planted_cuts_including_the_last():
    cam, cuts = _planted_cuts_track()
    found = detect_cuts(cam)
    assert found.dtype == np.int64
    np.testing.assert_array_equal(found, cuts)
    keys = fit_keyframes(cam)
    frames = {k.frame for k in keys}
    assert all({c - 1, c} <= frames for c in cuts)  # every cut as a key pair one frame apart
    assert_within(cam, rebuild(keys))


def test_detect_cuts_on_flat_short_and_cut_free_tracks():
    flat = track(np.full(40, -40.0), (0.0, 10.0, 0.0), np.zeros(3), 30.0)
    assert len(detect_cuts(flat)) == 0
    jump2 = track(np.array([-40.0, -10.0]), np.array([[0.0, 10.0, 0.0], [20.0, 0.0, 5.0]]),
                  np.array([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), 30.0)
    assert len(detect_cuts(jump2)) == 0  # a 2-frame track has no motion to compare a jump with
    assert len(detect_cuts(jump2.slice(0, 1))) == 0
    jump3 = track(np.array([-40.0, -40.0, -10.0]), (0.0, 10.0, 0.0), np.zeros(3), 30.0)
    np.testing.assert_array_equal(detect_cuts(jump3), [2])  # with one step to compare, it is a cut


# --------------------------------------------------------------------------------------------------
# A realistic track, through the file
# --------------------------------------------------------------------------------------------------
@dataclass
class _Song:
    """The few facts of a song generate_camera reads: 120 bpm, a quiet half and a loud half."""

    downbeat_times: np.ndarray
    sections: list

    def energy_at(self, times):
        t = np.asarray(times, dtype=np.float64)
        return np.where(t < self.sections[1][0], self.sections[0][2], self.sections[1][2])


def _stick_dancer(T: int) -> np.ndarray:
    """(T, 60, 3) bones in DCM units: a body that bounces on the beat, turns and crosses the floor."""
    t = np.arange(T) / FPS
    heading = 0.6 * t
    centre = np.stack([15 * np.sin(t / 4), 12 + 0.6 * np.sin(2 * np.pi * t), 12 * np.sin(t / 7)], 1)
    lateral = np.stack([np.cos(heading), np.zeros(T), -np.sin(heading)], 1)
    j = np.repeat(centre[:, None], 60, axis=1)
    j[:, 0] -= [0, 1, 0]  # pelvis
    j[:, 2] += [0, 3, 0]  # chest
    j[:, 4] += [0, 6, 0]  # head
    for left, right, dy in ((8, 12, -1.0), (18, 40, 4.0)):  # hips, shoulders
        j[:, left] += lateral + [0, dy, 0]
        j[:, right] += -lateral + [0, dy, 0]
    return j


@pytest.fixture(scope="module")
def synthetic():
    T = 600
    song = _Song(downbeat_times=np.arange(0.0, 20.0, 2.0), sections=[(0.0, 10.0, 0.3), (10.0, 20.0, 0.8)])
    return generate_camera(song, _stick_dancer(T), np.random.default_rng(3), fps=FPS)


@pytest.mark.parametrize("convention", ["later", "earlier"])
def test_a_synthetic_track_round_trips_through_a_file_within_bounds(synthetic, convention, tmp_path):
    cam = synthetic.track
    T = cam.num_frames
    np.testing.assert_array_equal(detect_cuts(cam), synthetic.cut_frames)
    assert len(synthetic.cut_frames) >= 3 and len(set(synthetic.shot_kinds)) >= 2
    cfg = KeyframeConfig(curve_from=convention)
    vmd = track_to_sparse_vmd(cam, cfg)
    assert vmd.model_name == CAMERA_MODEL_NAME
    keys = vmd.cameras
    frames = [k.frame for k in keys]
    assert frames[0] == 0 and frames[-1] == T - 1 and len(keys) < T / 8
    assert all({c - 1, c} <= set(frames) for c in synthetic.cut_frames)
    back = vmd_to_track(read_vmd(write_vmd(vmd, tmp_path / "camera.vmd")), curve_from=convention)
    assert_within(cam, back, cfg)
    rep = keyframe_report(cam, keys, cfg)
    assert rep["within_tolerance"] and rep["num_keys"] == len(keys) and rep["num_frames"] == T
    assert rep["keys_per_minute"] == pytest.approx(len(keys) / (T / FPS / 60))
    assert rep["max_rotation_error_deg"] <= cfg.rotation_tolerance_deg
    assert 0 < rep["max_view_error_deg"] <= np.sqrt(3) * cfg.rotation_tolerance_deg
    e = max_errors(cam, back)
    assert rep["max_interest_error"] == pytest.approx(e["interest"], abs=1e-6)
    # the eye error is measured, and bounded by what the channel tolerances allow at this distance
    bound = np.sqrt(3) * cfg.interest_tolerance + cfg.distance_tolerance + \
        np.abs(cam.distance).max() * np.radians(rep["max_view_error_deg"])
    assert 0 < rep["max_eye_error"] <= bound
    # looser tolerances: fewer keys
    loose = KeyframeConfig(interest_tolerance=0.5, distance_tolerance=0.5, rotation_tolerance_deg=1.0,
                           curve_from=convention)
    assert len(fit_keyframes(cam, loose, cuts=synthetic.cut_frames)) < len(keys)


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, match", [
    (dict(interest_tolerance=0.0), "interest_tolerance"),
    (dict(distance_tolerance=-1.0), "distance_tolerance"),
    (dict(rotation_tolerance_deg=float("nan")), "rotation_tolerance_deg"),
    (dict(rotation_tolerance_deg=180.0), "half a turn"),
    (dict(fov_tolerance_deg=0.4), "whole degrees"),
    (dict(max_gap=0), "max_gap"),
    (dict(max_gap=2.5), "max_gap"),
    (dict(curve_from="middle"), "curve_from"),
    (dict(cut_jump=1.0), "cut_jump"),
    (dict(cut_min_eye_step=0.0), "cut_min_eye_step"),
    (dict(cut_window=0), "cut_window"),
    (dict(interest_tolerance=True), "interest_tolerance"),
])
def test_bad_configs_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        KeyframeConfig(**bad)
