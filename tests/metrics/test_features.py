"""Kinetic and geometric features: hand-computed values, the loop baseline, and where legacy differs."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from data.skeleton import get_skeleton
from metrics.features import (
    GEOMETRIC_FEATURES, GEOMETRIC_QUIRK_FEATURES, GeometricVariant, geometric_features, kinetic_features,
    resample, template_body_scales, zero_start,
)
from data.skeleton import to_smpl24

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_metrics", ROOT / "bench" / "bench_metrics.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _track(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """A single joint (T, 1, 3) moving along ``axis`` through positions ``x``."""
    out = np.zeros((len(x), 1, 3))
    out[:, 0, axis] = x
    return out


FIDX = {r.name: i for i, r in enumerate(GEOMETRIC_FEATURES)}


# --------------------------------------------------------------------------------------------------
# Kinetic
# --------------------------------------------------------------------------------------------------
def test_constant_speed_joint():
    v = 1.2  # m/s along x, 60 fps, six frames from the origin
    joint = _track(v * np.arange(6) / 60.0)
    h, vert, e = kinetic_features(joint, 60.0, legacy=False)
    assert h == pytest.approx(v * v, rel=1e-12) and vert == 0.0 and abs(e) < 1e-9
    h_l, vert_l, e_l = kinetic_features(joint, 60.0, legacy=True)
    assert h_l == pytest.approx(v * v, rel=1e-12) and vert_l == 0.0
    # precedence bug: term(m) = ((p[m+1]-p[m])/dt - p[m] + p[m-1]/dt)/dt = 59 v m; window means over
    # m in [i-2, i+2] ∩ [1, 4] for i = 1..5 are 2, 2.5, 2.5, 3, 3.5 -> mean 2.7
    assert e_l == pytest.approx(59 * v * 2.7, rel=1e-12)


def test_window_edges_hand_values():
    x = np.array([0.0, 1, 3, 6, 10, 15])  # frame steps 1, 2, 3, 4, 5 (metres)
    h, _, e = kinetic_features(_track(x), 60.0, legacy=False)
    # window means of the steps at i = 1..5: 2, 2.5, 3, 3.5, 4 (edges use fewer steps)
    assert h == pytest.approx(3600 * (4 + 6.25 + 9 + 12.25 + 16) / 5)
    assert e == pytest.approx(3600.0)  # every second difference is 1 m/frame²
    # legacy terms at m = 1..4: 7140, 14220, 24840, 39000; window means 15400, 21300, 21300, 26020, 31920
    assert kinetic_features(_track(x), 60.0, legacy=True)[2] == pytest.approx(23188.0)


def test_vertical_component_and_up_axis():
    u = 0.5
    up = _track(u * np.arange(10) / 60.0, axis=1)
    h, vert, _ = kinetic_features(up, 60.0, legacy=False)
    assert h == 0.0 and vert == pytest.approx(u * u)
    h_z, vert_z, _ = kinetic_features(up, 60.0, legacy=False, up_axis=2)
    assert h_z == pytest.approx(u * u) and vert_z == 0.0


def test_legacy_frame_time_on_30fps_data():
    joint = _track(0.9 * np.arange(12) / 30.0)  # 0.9 m/s sampled at 30 fps
    legacy = kinetic_features(joint, 30.0, legacy=True)
    fixed = kinetic_features(joint, 30.0, legacy=False)
    assert fixed[0] == pytest.approx(0.81)
    assert legacy[0] == pytest.approx(4 * 0.81)  # 1/60 s on 30 fps data doubles every speed


def test_legacy_and_corrected_differ_only_in_acceleration_at_60fps(synth):
    joints = zero_start(synth.beat_dance(3, seconds=3)[0].joints)
    legacy = kinetic_features(joints, 60.0, legacy=True).reshape(24, 3)
    fixed = kinetic_features(joints, 60.0, legacy=False).reshape(24, 3)
    np.testing.assert_array_equal(legacy[:, :2], fixed[:, :2])
    assert np.all(np.abs(legacy[:, 2] - fixed[:, 2]) > 1.0)


def test_vectorised_equals_loop_baseline(synth):
    bench = _bench()
    rng = np.random.default_rng(0)
    joints = np.cumsum(rng.normal(scale=0.01, size=(70, 24, 3)), axis=0) + synth.beat_dance(1, 70 / 60)[0].joints
    np.testing.assert_allclose(kinetic_features(joints, 60.0, legacy=True), bench.loop_kinetic_features(joints),
                               rtol=1e-11)
    np.testing.assert_allclose(kinetic_features(joints, 60.0, legacy=False),
                               bench.loop_kinetic_features(joints, precedence_bug=False), rtol=1e-11, atol=1e-9)
    np.testing.assert_array_equal(geometric_features(joints, 60.0, legacy=True),
                                  bench.loop_geometric_features(joints))


# --------------------------------------------------------------------------------------------------
# Geometric
# --------------------------------------------------------------------------------------------------
def test_template_scales_are_the_reference_constants():
    s = template_body_scales()
    assert s["hl"] == pytest.approx(0.2568381, abs=1e-6)
    assert s["sw"] == pytest.approx(0.3908484, abs=1e-6)
    assert s["hw"] == pytest.approx(0.1192471, abs=1e-6)


def _rest(T: int) -> np.ndarray:
    return np.repeat(get_skeleton("smpl24").rest_joints()[None], T, axis=0)


def test_velocity_frame_time_quirk_on_a_gliding_body():
    # the rest pose translated at 0.4 m/s: the reference's 1/120 s reads 0.8 m/s, above the root
    # (2.3 hl = 0.59 m/s) and hand / foot (2.5 hl = 0.64 m/s) thresholds; the true speed is below
    T = 30
    x = _rest(T)
    x[:, :, 0] += 0.4 * np.arange(T)[:, None] / 60.0
    legacy = geometric_features(x, 60.0, legacy=True)
    fixed = geometric_features(x, 60.0, legacy=False)
    fast = [FIDX[n] for n in ("r_hand_fast", "l_hand_fast", "r_foot_fast", "l_foot_fast", "root_fast")]
    assert legacy[fast].tolist() == [1.0] * 5 and fixed[fast].tolist() == [0.0] * 5
    others = [i for i in range(32) if i not in fast]
    np.testing.assert_array_equal(legacy[others], fixed[others])  # rigid glide: no relative motion


def test_move_ignores_its_fourth_joint_in_legacy():
    # only the right wrist rises, 1 m/s: "right hand moves up" is chest-vs-belly in the reference
    # (which never moves), the wrist-vs-chest velocity once j4 is used (> 1.8 hl = 0.46 m/s)
    T = 20
    x = _rest(T)
    x[:, 21, 1] += np.arange(T) / 60.0
    i = FIDX["r_hand_moves_up"]
    assert geometric_features(x, 60.0, legacy=True)[i] == 0.0
    assert geometric_features(x, 60.0, variant=GeometricVariant(move_uses_j4=True))[i] == 1.0
    assert geometric_features(x, 60.0, legacy=False)[i] == 1.0


def test_body_horizontal_hand_value():
    upright = _rest(5)
    lying = upright[:, :, [0, 2, 1]] * np.array([1.0, 1.0, -1.0])  # rotate the body onto its back
    i = FIDX["body_horizontal"]
    assert geometric_features(upright, 60.0)[i] == 0.0
    assert geometric_features(lying, 60.0)[i] == 1.0


def test_each_quirk_touches_only_its_features(synth):
    joints = 1.25 * synth.beat_dance(5, seconds=4)[0].joints  # a taller dancer: thresholds differ too
    legacy = geometric_features(joints, 60.0, legacy=True)
    toggles = {
        "time_per_frame": GeometricVariant(time_per_frame=None),
        "move_uses_j4": GeometricVariant(move_uses_j4=True),
        "body_scale": GeometricVariant(body_scale="measured"),
    }
    for quirk, variant in toggles.items():
        changed = set(np.nonzero(geometric_features(joints, 60.0, variant=variant) != legacy)[0])
        assert changed, f"{quirk} changed nothing on a moving, rescaled body"
        assert changed <= set(GEOMETRIC_QUIRK_FEATURES[quirk]), quirk
    all_changed = set(np.nonzero(geometric_features(joints, 60.0, legacy=False) != legacy)[0])
    assert all_changed <= set().union(*GEOMETRIC_QUIRK_FEATURES.values())
    angle_features = [i for i, r in enumerate(GEOMETRIC_FEATURES) if r.kind == "angle"]
    assert not set(angle_features) & all_changed  # pose angles have no quirk


def test_template_sized_body_has_no_threshold_difference(synth):
    joints = synth.beat_dance(6, seconds=2)[0].joints  # FK of the SMPL template: same bone lengths
    a = geometric_features(joints, 60.0, variant=GeometricVariant())
    b = geometric_features(joints, 60.0, variant=GeometricVariant(body_scale="measured"))
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
def test_smplx_reduction_and_zero_start():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 55, 3))
    r = to_smpl24(x, "smplx55")
    assert r.shape == (4, 24, 3)
    np.testing.assert_allclose(r[:, :22], x[:, :22])
    np.testing.assert_allclose(r[:, 22], x[:, [25, 28, 31, 34, 37]].mean(axis=1))
    np.testing.assert_allclose(r[:, 23], x[:, [40, 43, 46, 49, 52]].mean(axis=1))
    z = zero_start(r)
    np.testing.assert_allclose(z[0, 0], 0.0)
    np.testing.assert_allclose(z[2, 5] - z[1, 3], r[2, 5] - r[1, 3])
    with pytest.raises(ValueError):
        to_smpl24(rng.normal(size=(4, 60, 3)), "mmd60")


def test_resample_linear():
    x = np.arange(7, dtype=float)[:, None] * 2.0  # 30 fps ramp
    up = resample(x, 30, 60)
    assert up.shape == (13, 1)
    np.testing.assert_allclose(up[:, 0], np.arange(13) * 1.0)
    np.testing.assert_allclose(resample(up, 60, 30), x)
