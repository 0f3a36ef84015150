"""Synthetic solo dances: shapes, determinism, feet on the floor, smooth human-range rotations,
kinematic beats on the music's beats, energy-driven amplitude, genre vocabularies, basic vs advanced."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from metrics.corpus_checks import bas_own_and_control, motion_features
from data.synth.music import GENRES, synth_song
from data.synth.solo import (DOF_NAMES, FOOT_JOINTS, VOCABULARIES, DancerStyle, generate_dance, mirror_dofs,
                             transition_matrix, vocabulary)

STYLE = DancerStyle.sample(np.random.default_rng(5))


@pytest.fixture(scope="module")
def song():
    return synth_song("LO", seed=2, duration=24.0)


@pytest.fixture(scope="module")
def other_song():
    return synth_song("JB", seed=8, duration=24.0)


@pytest.fixture(scope="module")
def dance(song):
    return generate_dance(song[1], np.random.default_rng(1), STYLE)


@pytest.fixture(scope="module")
def basic(song):
    return generate_dance(song[1], np.random.default_rng(1), STYLE, choreography="basic")


def test_shapes_and_labels(song, dance):
    truth = song[1]
    T = round(truth.duration * 60)
    assert dance.rotations.shape == (T, 24, 3) and dance.root.shape == (T, 3) and dance.fps == 60.0
    assert dance.joints.shape == (T, 24, 3) and dance.skeleton == "smpl24"
    np.testing.assert_array_equal(dance.beat_frames, np.round(truth.beat_times * 60).astype(int))
    assert len(dance.move_labels) == len(truth.beat_times)
    vocab = {f"LO.{m.name}" for m in vocabulary("LO")}
    assert all(lab in vocab for lab in dance.move_labels)
    # moves tile the beats: 4-beat moves start on downbeats, 2-beat moves on beats 1 or 3
    covered = 0
    for label, first, beats, side in dance.moves:
        assert first == covered and beats in (1, 2, 4) and side in (1, -1)
        assert first % beats == 0
        covered += beats
    assert covered >= len(truth.beat_times)
    # float32-representable, as the AIST++ pickle stores them
    assert np.array_equal(dance.rotations, dance.rotations.astype(np.float32).astype(np.float64))
    assert np.array_equal(dance.root, dance.root.astype(np.float32).astype(np.float64))


def test_same_seed_same_dance(song, dance):
    again = generate_dance(song[1], np.random.default_rng(1), STYLE)
    assert np.array_equal(again.rotations, dance.rotations) and np.array_equal(again.root, dance.root)
    assert again.move_labels == dance.move_labels
    other = generate_dance(song[1], np.random.default_rng(2), STYLE)
    assert not np.array_equal(other.rotations, dance.rotations)


def test_feet_on_the_floor_and_rotations_smooth_and_human(dance):
    joints = dance.joints
    lowest = joints[:, list(FOOT_JOINTS), 1].min(axis=1)  # (T,)
    air = dance.dofs[:, DOF_NAMES.index("air")]
    grounded = air < 1e-6
    assert grounded.mean() > 0.5
    np.testing.assert_allclose(lowest[grounded], 0.0, atol=1e-5)
    assert lowest.min() > -1e-5 and lowest.max() < 0.61
    # no flips: the relative rotation between consecutive frames stays small for every joint
    T = dance.num_frames
    R = Rotation.from_rotvec(dance.rotations.reshape(-1, 3))
    Rn = Rotation.from_rotvec(dance.rotations[1:].reshape(-1, 3))
    Rp = Rotation.from_rotvec(dance.rotations[:-1].reshape(-1, 3))
    step = (Rp.inv() * Rn).magnitude().reshape(T - 1, 24)
    assert step.max() < 0.35  # rad per 1/60 s
    # human ranges: no local joint rotation beyond ~150 degrees (the root's heading is free)
    assert R.magnitude().reshape(T, 24)[:, 1:].max() < np.deg2rad(150)
    # the dancer stays on the stage
    assert np.abs(dance.root[:, [0, 2]]).max() < 2.5


def test_kinematic_beats_land_on_the_music_beats(song, other_song, dance, basic):
    for d in (dance, basic):
        own, control = bas_own_and_control(d.joints, 60.0, song[1].beat_times, other_song[1].beat_times)
        assert own > 0.65 and own > control + 0.3, (own, control)
    # the pose keys sit on the beats up to the dancer's jitter and lag
    beats = dance.beat_frames
    dist = np.abs(dance.key_frames[:, None] - beats[None, :]).min(axis=1)
    assert np.median(dist) <= 1 and np.mean(dist <= 3) > 0.85


def test_amplitude_follows_section_energy(song, dance):
    truth = song[1]
    speed = np.linalg.norm(np.diff(dance.joints, axis=0), axis=-1).mean(axis=1) * 60.0  # (T-1,) m/s
    t = (np.arange(speed.size) + 0.5) / 60.0
    e = truth.energy_at(t)
    hi, lo = speed[e >= 0.7], speed[e <= 0.4]
    assert hi.size and lo.size
    assert hi.mean() > 1.3 * lo.mean()


def test_basic_repeats_a_phrase_advanced_does_not(song, dance, basic):
    truth = song[1]
    B = len(truth.beat_times)
    assert all(basic.move_labels[b] == basic.move_labels[b + 8] for b in range(B - 8))
    assert not all(dance.move_labels[b] == dance.move_labels[b + 8] for b in range(B - 8))

    def phrase_corr(d) -> float:
        # body rotations sampled 4 times a beat, phrase k against phrase k + 2 (travelling moves go
        # back on every other repeat of a basic phrase)
        pts = truth.beat_times[0] + np.arange(0, (B - 1) * 4) * (60.0 / truth.bpm) / 4
        idx = np.round(pts * 60).astype(int)
        x = d.rotations[idx, 1:22].reshape(len(idx), -1)  # (S, 63)
        x = x - x.mean(axis=0)
        per = 8 * 4
        cs = [np.corrcoef(x[k * per:(k + 1) * per].ravel(), x[(k + 2) * per:(k + 3) * per].ravel())[0, 1]
              for k in range(len(idx) // per - 2)]
        return float(np.mean(cs))

    assert phrase_corr(basic) > 0.85
    assert phrase_corr(dance) < 0.6


def test_vocabularies_are_genre_specific():
    assert set(VOCABULARIES) == set(GENRES)
    names = {g: {m.name for m in v} for g, v in VOCABULARIES.items()}
    for g, moves in VOCABULARIES.items():
        assert len(moves) >= 6 and len(names[g]) == len(moves)
        assert {m.beats for m in moves} <= {1, 2, 4} and any(m.beats == 1 for m in moves)
        for m in moves:
            assert all(0 <= t < m.beats for t, _ in m.keys) and 0 <= m.intensity <= 1
        P = transition_matrix(g)
        assert P.shape == (len(moves), len(moves)) and np.allclose(P.sum(axis=1), 1.0)
    gs = list(VOCABULARIES)
    for i, a in enumerate(gs):
        for b in gs[i + 1:]:
            assert len(names[a] & names[b]) / len(names[a] | names[b]) < 0.25, (a, b)
            assert not np.allclose(transition_matrix(a)[:2, :2], transition_matrix(b)[:2, :2])


def test_genre_shows_in_the_motion(song):
    """Two genres danced to the same song differ more than two dancers of one genre."""
    truth = song[1]
    styles = [DancerStyle.sample(np.random.default_rng(k)) for k in range(2)]

    def feats(genre: str, k: int) -> np.ndarray:
        d = generate_dance(truth, np.random.default_rng(10 + k), styles[k], genre=genre, duration=16.0)
        return motion_features(d.joints, 60.0)

    f = {(g, k): feats(g, k) for g in ("KR", "JB") for k in range(2)}
    within = np.linalg.norm(f[("KR", 0)] - f[("KR", 1)]) + np.linalg.norm(f[("JB", 0)] - f[("JB", 1)])
    across = np.linalg.norm(f[("KR", 0)] - f[("JB", 1)]) + np.linalg.norm(f[("JB", 0)] - f[("KR", 1)])
    assert across > 1.5 * within


def test_smplx_with_fingers_at_30_fps(song):
    truth = song[1]
    d = generate_dance(truth, np.random.default_rng(3), STYLE, skeleton="smplx55", fps=30.0, duration=12.0)
    assert d.rotations.shape == (360, 55, 3) and d.root.shape == (360, 3) and d.fps == 30.0
    assert np.array_equal(d.beat_frames, np.round(truth.beat_times[truth.beat_times < 12.0] * 30).astype(int))
    # the body matches the smpl24 dance of the same draw joint for joint (SMPL-X body = SMPL's 0..21)
    b = generate_dance(truth, np.random.default_rng(3), STYLE, skeleton="smpl24", fps=30.0, duration=12.0)
    np.testing.assert_allclose(d.rotations[:, :22], b.rotations[:, :22], atol=1e-6)
    fingers = np.linalg.norm(d.rotations[:, 25:55], axis=-1)  # (T, 30)
    assert fingers.max() < np.deg2rad(100) and fingers.mean() > np.deg2rad(5)
    assert fingers.mean(axis=1).std() > np.deg2rad(2)  # fingers curl and open with the moves
    assert np.abs(d.rotations[:, 22]).max() > 0  # the jaw moves
    lowest = d.joints[:, list(FOOT_JOINTS), 1].min(axis=1)
    assert lowest.min() > -1e-5


def test_mirror_dofs_is_an_involution():
    v = np.random.default_rng(0).normal(size=(5, len(DOF_NAMES)))
    np.testing.assert_allclose(mirror_dofs(mirror_dofs(v)), v)
    i, j = DOF_NAMES.index("l_knee"), DOF_NAMES.index("r_knee")
    np.testing.assert_allclose(mirror_dofs(v)[:, i], v[:, j])
    k = DOF_NAMES.index("spine_twist")
    np.testing.assert_allclose(mirror_dofs(v)[:, k], -v[:, k])


def test_style_round_trip_and_bad_arguments(song):
    s = DancerStyle.sample(np.random.default_rng(4))
    assert 0.8 <= s.amplitude <= 1.2 and 0.005 <= s.timing_jitter <= 0.018 and s.joint_bias.shape == (24, 3)
    back = DancerStyle.from_dict(s.to_dict())
    np.testing.assert_allclose(back.joint_bias, s.joint_bias, atol=1e-6)
    assert back.amplitude == pytest.approx(s.amplitude)
    with pytest.raises(ValueError, match="choreography"):
        generate_dance(song[1], np.random.default_rng(0), s, choreography="free")
    with pytest.raises(ValueError, match="smpl24 or smplx55"):
        generate_dance(song[1], np.random.default_rng(0), s, skeleton="mmd60")


def test_degrees_of_freedom_move_the_body_anatomically():
    from data.fk import forward_kinematics_np
    from data.skeleton import get_skeleton
    from data.synth.solo import pose_vector, render_dofs

    sk = get_skeleton("smpl24")

    def direction(a: int, b: int, **dofs: float) -> np.ndarray:
        R, root = render_dofs(pose_vector(dofs)[None], np.zeros(1), np.zeros((1, 2)), floor=False)
        j = forward_kinematics_np(sk, R, root)[0]
        v = j[b] - j[a]
        return v / np.linalg.norm(v)

    forward, up, left = np.array([0, 0, 1.0]), np.array([0, 1.0, 0]), np.array([1.0, 0, 0])
    assert direction(18, 20, l_sh_raise=12, l_elbow=90) @ forward > 0.95  # elbows flex forwards
    assert direction(19, 21, r_sh_raise=12, r_elbow=90) @ forward > 0.95
    assert direction(16, 20, l_sh_raise=90, l_sh_fwd=90) @ forward > 0.95  # arms swing forwards
    assert direction(17, 21, r_sh_raise=90, r_sh_fwd=90) @ forward > 0.95
    assert direction(16, 20, l_sh_raise=170) @ up > 0.95  # and raise overhead
    assert direction(1, 4, l_hip_flex=90) @ forward > 0.95  # hips flex forwards
    assert direction(4, 7, l_hip_flex=90, l_knee=90) @ -up > 0.95  # knees fold the shin back down
    assert direction(1, 4, l_hip_abd=45) @ left > 0.7 and direction(2, 5, r_hip_abd=45) @ -left > 0.7
    assert direction(0, 15, spine_bend=45) @ forward > 0.4  # the spine bends forwards
