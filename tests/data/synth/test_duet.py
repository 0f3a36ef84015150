"""Synthetic duets: the mirror is an x-reflection after FK, canon is the leader delayed, hands meet in
contact frames, formations live in the leader's frame, and the whole duet is a function of the seed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from data.fk import forward_kinematics_np
from data.skeleton import get_skeleton
from data.synth.duet import (CONTACT_TOLERANCE_M, FORMATIONS, RESPONSES, DuetTruth, Phrase, compose_duet, decompose,
                             generate_duet, mirror_permutation, mirror_positions, mirror_rotations, phrase_bounds,
                             plan_duet, symmetrized, two_bone_ik)
from data.synth.music import synth_song

SK = get_skeleton("smplx55")
SYM = symmetrized(SK)
FPS = 30.0


def _yaw(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(np.shape(a) + (3, 3))
    R[..., 0, 0], R[..., 0, 2], R[..., 1, 1], R[..., 2, 0], R[..., 2, 2] = c, s, 1.0, -s, c
    return R


def _rotvec_mul(R: np.ndarray, rotvec: np.ndarray) -> np.ndarray:
    import roma
    import torch

    out = torch.tensor(R) @ roma.rotvec_to_rotmat(torch.tensor(rotvec))
    return roma.rotmat_to_rotvec(out).numpy()


@pytest.fixture(scope="module")
def song():
    _, truth = synth_song("PO", seed=3, duration=18.0, bpm=120.0)  # 9 bars: four phrases of two bars
    return truth


def _smooth_dancer(T: int, seed: int, turn: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth made-up dancer (T, 55, 3) + (T, 3): bends everywhere, turns, travels, bounces."""
    r = np.random.default_rng(seed)
    rot = gaussian_filter1d(r.normal(size=(T, 55, 3)), 5, axis=0) * 1.2  # about 0.3 rad
    t = np.arange(T) / FPS
    rot[:, 0] = np.stack([0.1 * np.sin(t), turn * np.sin(t / 4), 0.05 * np.cos(t)], axis=1)
    transl = np.stack([0.4 * np.sin(t / 3), 1.15 + 0.04 * np.sin(2 * np.pi * t), 0.3 * np.cos(t / 5)], axis=1)
    return rot, transl


def _local_joints(joints: np.ndarray, heading: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """World joints (T, J, 3) -> in the frame (heading, anchor): R_y(-h) (x - anchor)."""
    return np.einsum("tji,tkj->tki", _yaw(heading), joints - anchor[:, None])  # R^T (x - a)


def _follower_frame(d: DuetTruth) -> tuple[np.ndarray, np.ndarray]:
    anchor = d.leader_anchor + np.einsum("tij,tj->ti", _yaw(d.leader_heading), d.formation_offset)
    return d.leader_heading + d.relative_heading, anchor


def _pure(d: DuetTruth, response: str) -> np.ndarray:
    """Frames of ``response`` phrases, outside blends and contact arms."""
    resp = np.array(d.response_per_frame())
    return np.flatnonzero((resp == response) & ~d.transition & (d.contact_weight == 0))


# --------------------------------------------------------------------------------------------------
# Mirror
# --------------------------------------------------------------------------------------------------
def test_mirror_permutation_pairs_left_and_right():
    perm = mirror_permutation()
    names = SK.joint_names
    assert (perm[perm] == np.arange(55)).all()
    assert names[perm[SK.index("left_wrist")]] == "right_wrist"
    assert names[perm[SK.index("right_pinky3")]] == "left_pinky3"
    assert perm[SK.index("jaw")] == SK.index("jaw") and perm[0] == 0


def test_mirrored_pose_is_the_x_reflection_after_fk():
    rng = np.random.default_rng(0)
    rot = rng.normal(size=(6, 55, 3)) * 0.7
    transl = rng.normal(size=(6, 3)) * 0.5
    pelvis = transl + SK.root_rest
    transl_m = mirror_positions(pelvis) - SK.root_rest
    joints = forward_kinematics_np(SYM, rot, transl)
    mirrored = forward_kinematics_np(SYM, mirror_rotations(rot), transl_m)
    # joint j of the mirror is the reflection of joint perm[j] of the original
    np.testing.assert_allclose(mirrored, mirror_positions(joints)[:, mirror_permutation()], atol=1e-9)
    # the shipped template is a little asymmetric: the same holds to a few cm there
    real = forward_kinematics_np(SK, rot, transl)
    real_m = forward_kinematics_np(SK, mirror_rotations(rot), transl_m)
    assert np.abs(real_m - mirror_positions(real)[:, mirror_permutation()]).max() < 0.06
    # negating x instead of (y, z) is not a mirror: the check above can fail
    wrong = forward_kinematics_np(SYM, rot[:, mirror_permutation()] * [-1, 1, 1], transl_m)
    assert np.abs(wrong - mirror_positions(joints)[:, mirror_permutation()]).max() > 0.2


# --------------------------------------------------------------------------------------------------
# Two-bone IK
# --------------------------------------------------------------------------------------------------
def test_two_bone_ik_reaches_reachable_targets():
    rot, transl = _smooth_dancer(40, seed=5)
    joints = forward_kinematics_np(SK, rot, transl)
    shoulder = joints[:, SK.index("left_shoulder")]
    rng = np.random.default_rng(1)
    direction = rng.normal(size=(40, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    target = shoulder + direction * rng.uniform(0.15, 0.45, size=(40, 1))
    new_rot, reached = two_bone_ik(rot, transl, "left", target, SK)
    after = forward_kinematics_np(SK, new_rot, transl)
    np.testing.assert_allclose(after[:, SK.index("left_wrist")], target, atol=1e-6)
    np.testing.assert_allclose(reached, target, atol=1e-6)
    changed = np.flatnonzero(np.abs(new_rot - rot).max(axis=(0, 2)) > 1e-9)
    assert set(changed) <= {SK.index("left_shoulder"), SK.index("left_elbow")}
    # the rest of the body did not move
    keep = [j for j in range(55) if j not in (SK.index("left_elbow"),) and SK.parents[j] != SK.index("left_elbow")
            and j not in range(25, 40) and j != SK.index("left_wrist")]
    np.testing.assert_allclose(after[:, keep], joints[:, keep], atol=1e-9)


def test_plan_covers_the_song_and_always_holds_hands_once(song):
    T = int(song.duration * FPS)
    plans = [plan_duet(song, T, np.random.default_rng(seed), FPS, contact_probability=0.0) for seed in range(5)]
    for plan in plans:
        assert [[p.start, p.stop] for p in plan] == phrase_bounds(song, T, FPS).tolist()
        assert sum(p.contact for p in plan) == 1  # none drawn: one is forced
        assert all((p.response, p.formation) != (q.response, q.formation) for p, q in zip(plan, plan[1:]))
        for p in plan:
            beat = 60.0 / song.bpm * FPS
            assert p.delay in ((round(beat), round(2 * beat)) if p.response == "canon" else (0, round(beat)))
    again = plan_duet(song, T, np.random.default_rng(0), FPS, contact_probability=0.0)
    assert [p.to_json() for p in again] == [p.to_json() for p in plans[0]]


# --------------------------------------------------------------------------------------------------
# Composition on a made-up leader: responses, formations, contact
# --------------------------------------------------------------------------------------------------
def _plan(song, T: int, responses, formations, sides, contact) -> list[Phrase]:
    out = []
    beat = 60.0 / song.bpm * FPS
    for (a, b), resp, form, side, c in zip(phrase_bounds(song, T, FPS), responses, formations, sides, contact):
        delay = int(round(2 * beat)) if resp == "canon" else 0
        out.append(Phrase(int(a), int(b), resp, delay, form, side, 0.85 if c else 1.0, c))
    return out


@pytest.fixture(scope="module")
def composed(song):
    T = int(song.duration * FPS)
    leader = _smooth_dancer(T, seed=1)
    material = _smooth_dancer(T, seed=2, turn=-1.0)
    n = len(phrase_bounds(song, T, FPS))
    assert n >= 4
    responses = (["mirror", "canon", "complement", "mirror"] * 3)[:n]
    # at his left, still at his left, round to his front, face to face: no long walks between phrases
    formations = (["side_by_side", "side_by_side", "circling", "face_to_face"] * 3)[:n]
    sides = ([1.0, 1.0, -1.0, 1.0] * 3)[:n]
    contact = ([False, False, True, True] * 3)[:n]
    plan = _plan(song, T, responses, formations, sides, contact)
    return song, leader, material, plan, compose_duet(song, *leader, *material, plan, fps=FPS)


def test_mirror_phrases_are_reflections_in_the_leader_frame(composed):
    _, _, _, _, d = composed
    frames = _pure(d, "mirror")
    assert len(frames) > 60
    jl = forward_kinematics_np(SYM, d.leader_rotations, d.leader_root)
    jf = forward_kinematics_np(SYM, d.follower_rotations, d.follower_root)
    hf, af = _follower_frame(d)
    local_l = _local_joints(jl, d.leader_heading, d.leader_anchor)[frames]
    local_f = _local_joints(jf, hf, af)[frames]
    np.testing.assert_allclose(local_f, mirror_positions(local_l)[:, mirror_permutation()], atol=1e-6)
    assert np.abs(local_f - local_l).max() > 0.1  # and it is not simply a copy


def test_canon_is_the_leader_delayed(composed):
    song, _, _, plan, d = composed
    frames = _pure(d, "canon")
    delay = next(p.delay for p in d.phrases if p.response == "canon")
    assert delay == round(2 * 60.0 / song.bpm * FPS)
    frames = frames[frames >= delay]
    assert len(frames) > 60
    jl = forward_kinematics_np(SK, d.leader_rotations, d.leader_root)
    jf = forward_kinematics_np(SK, d.follower_rotations, d.follower_root)
    hf, af = _follower_frame(d)
    local_l = _local_joints(jl, d.leader_heading, d.leader_anchor)
    local_f = _local_joints(jf, hf, af)
    np.testing.assert_allclose(local_f[frames], local_l[frames - delay], atol=1e-6)
    assert np.abs(local_f[frames] - local_l[frames]).max() > 0.1  # the delay matters


def test_hands_meet_in_contact_frames(composed):
    _, _, _, _, d = composed
    assert d.contact.sum() > 60
    jl = forward_kinematics_np(SK, d.leader_rotations, d.leader_root)
    jf = forward_kinematics_np(SK, d.follower_rotations, d.follower_root)
    for ph in d.phrases:
        if not ph.contact:
            assert ph.hands is None
            continue
        lw, fw = SK.index(ph.hands[0]), SK.index(ph.hands[1])
        frames = np.flatnonzero(d.contact[ph.start:ph.stop]) + ph.start
        assert len(frames) > 20  # this made-up leader flails: not every frame is within reach
        dist = np.linalg.norm(jl[frames, lw] - jf[frames, fw], axis=1)
        assert dist.max() < CONTACT_TOLERANCE_M
        # outside contact phrases the hands are apart
    no_contact = np.flatnonzero(d.contact_weight == 0)
    gap = np.linalg.norm(jl[no_contact, SK.index("left_wrist")] - jf[no_contact, SK.index("right_wrist")], axis=1)
    assert np.median(gap) > 0.15


def test_formation_offsets_follow_the_leader_heading(composed):
    song, (lr, lt), material, plan, d = composed
    alpha = 1.1
    R = _yaw(np.array(alpha))
    lr2 = lr.copy()
    lr2[:, 0] = _rotvec_mul(np.broadcast_to(R, (len(lr), 3, 3)), lr[:, 0])
    lt2 = (lt + SK.root_rest) @ R.T - SK.root_rest
    d2 = compose_duet(song, lr2, lt2, *material, plan, fps=FPS)
    pf = d.follower_root + SK.root_rest
    pf2 = d2.follower_root + SK.root_rest
    # the follower turned with the leader: positions rotated by alpha about the origin ...
    np.testing.assert_allclose(pf2, pf @ R.T, atol=1e-6)
    np.testing.assert_allclose(d2.formation_offset, d.formation_offset, atol=1e-9)  # same offset in his frame
    np.testing.assert_allclose(d2.leader_heading, d.leader_heading + alpha, atol=1e-6)
    # ... and so did its body (every joint)
    jf = forward_kinematics_np(SK, d.follower_rotations, d.follower_root)
    jf2 = forward_kinematics_np(SK, d2.follower_rotations, d2.follower_root)
    np.testing.assert_allclose(jf2, jf @ R.T, atol=1e-6)
    # turning the follower's own material changes nothing: her placement is the leader's business
    mr, mt = material
    mr2 = mr.copy()
    mr2[:, 0] = _rotvec_mul(np.broadcast_to(R, (len(mr), 3, 3)), mr[:, 0])
    d3 = compose_duet(song, lr, lt, mr2, (mt + SK.root_rest) @ R.T - SK.root_rest, plan, fps=FPS)
    np.testing.assert_allclose(d3.follower_root, d.follower_root, atol=1e-6)


def test_formation_shapes(composed):
    _, _, _, _, d = composed
    pelvis_l = d.leader_root + SK.root_rest
    pelvis_f = d.follower_root + SK.root_rest
    rel = np.einsum("tji,tj->ti", _yaw(d.leader_heading), pelvis_f - pelvis_l)  # in the leader's frame
    checked = set()
    for ph in d.phrases[:4]:  # the planned pattern (a short last phrase may still be on its way)
        frames = np.flatnonzero(~d.transition[ph.start:ph.stop]) + ph.start
        assert len(frames) > 30, ph
        r = d.formation_radius[frames]
        if ph.formation == "side_by_side":  # at his left (+x), facing the way he does
            assert abs(np.mean(rel[frames, 0]) - np.mean(r)) < 0.25 and abs(np.mean(rel[frames, 2])) < 0.25
            np.testing.assert_allclose(d.relative_heading[frames], 0.0, atol=1e-9)
        elif ph.formation == "face_to_face":  # in front of him, facing him
            assert abs(np.mean(rel[frames, 2]) - np.mean(r)) < 0.25 and abs(np.mean(rel[frames, 0])) < 0.25
            np.testing.assert_allclose(np.cos(d.relative_heading[frames]), -1.0, atol=1e-9)
        else:  # circling: a quarter circle round him, from his left to his front, facing him
            angle = d.formation_angle[ph.start:ph.stop]
            assert angle[0] == pytest.approx(np.pi / 2, abs=0.05) and angle[-1] == pytest.approx(0.0, abs=0.05)
            np.testing.assert_allclose(np.cos(d.relative_heading[frames] - d.formation_angle[frames]), -1.0,
                                       atol=1e-9)
        checked.add(ph.formation)
        assert (d.formation_radius[frames] >= 0.8).all()
    assert checked == set(FORMATIONS)
    # where she changes place, she walks: under 1 m/s
    speed = np.linalg.norm(np.diff(d.formation_offset, axis=0), axis=1) * FPS
    assert speed.max() < 1.0


def test_decompose_is_heading_free():
    rot, transl = _smooth_dancer(90, seed=4)
    m = decompose(rot, transl, FPS, SK)
    R = _yaw(np.array(0.7))
    rot2 = rot.copy()
    rot2[:, 0] = _rotvec_mul(np.broadcast_to(R, (90, 3, 3)), rot[:, 0])
    m2 = decompose(rot2, (transl + SK.root_rest) @ R.T - SK.root_rest, FPS, SK)
    np.testing.assert_allclose(m2.rotations, m.rotations, atol=1e-9)
    np.testing.assert_allclose(m2.offset, m.offset, atol=1e-9)
    np.testing.assert_allclose(m2.heading, m.heading + 0.7, atol=1e-9)


# --------------------------------------------------------------------------------------------------
# The real thing: generate_duet on solo dances
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def duet(song):
    from data.synth.solo import DancerStyle

    rng = np.random.default_rng(11)
    return generate_duet(song, np.random.default_rng(7), DancerStyle.sample(rng), DancerStyle.sample(rng), fps=FPS)


def test_generated_duet_shapes_and_labels(duet, song):
    T = duet.num_frames
    assert T == pytest.approx(song.duration * FPS, abs=2)
    for a in (duet.leader_rotations, duet.follower_rotations):
        assert a.shape == (T, 55, 3) and np.isfinite(a).all()
    assert duet.leader_root.shape == duet.follower_root.shape == (T, 3)
    assert {p.response for p in duet.phrases} <= set(RESPONSES)
    assert {p.formation for p in duet.phrases} <= set(FORMATIONS)
    assert duet.phrases[0].start == 0 and duet.phrases[-1].stop == T
    assert all(p.stop == q.start for p, q in zip(duet.phrases, duet.phrases[1:]))
    # phrases start on downbeats
    downbeats = set(np.round(song.downbeat_times * FPS).astype(int).tolist())
    assert all(p.start in downbeats for p in duet.phrases[1:])
    # axis-angles are continuous (a spin does not wrap the root's vector round): no jumps between frames
    for rot in (duet.leader_rotations, duet.follower_rotations):
        assert np.abs(np.diff(rot[:, 0], axis=0)).max() < 0.5
    # fingers move (SMPL-X hands are part of the data)
    assert np.abs(duet.follower_rotations[:, 25:55]).max() > 0.05
    assert len(duet.follower_moves) == len(duet.beat_frames) and len(duet.leader_moves) > 0
    js = duet.to_json()
    assert len(js["phrases"]) == len(duet.phrases) and js["num_frames"] == T


def test_generated_duet_keeps_its_promises(duet):
    jl = forward_kinematics_np(SK, duet.leader_rotations, duet.leader_root)
    jf = forward_kinematics_np(SK, duet.follower_rotations, duet.follower_root)
    for ph in duet.phrases:
        if ph.contact:
            frames = np.flatnonzero(duet.contact[ph.start:ph.stop]) + ph.start
            dist = np.linalg.norm(jl[frames, SK.index(ph.hands[0])] - jf[frames, SK.index(ph.hands[1])], axis=1)
            assert len(frames) == 0 or dist.max() < CONTACT_TOLERANCE_M
    full = duet.contact_weight >= 1
    if full.any():  # holding phrases hold for nearly all their full-weight frames
        assert duet.contact[full].mean() > 0.9
    # the dancers never stand inside each other
    gap = np.linalg.norm((jl[:, 0] - jf[:, 0])[:, [0, 2]], axis=1)
    assert gap.min() > 0.3


def test_generate_duet_is_deterministic(song):
    from data.synth.solo import DancerStyle

    def make(seed):
        rng = np.random.default_rng(seed)
        return generate_duet(song, np.random.default_rng(seed), DancerStyle.sample(rng), DancerStyle.sample(rng))

    a, b, c = make(5), make(5), make(6)
    np.testing.assert_array_equal(a.follower_rotations, b.follower_rotations)
    np.testing.assert_array_equal(a.leader_root, b.leader_root)
    assert [p.to_json() for p in a.phrases] == [p.to_json() for p in b.phrases]
    assert not np.array_equal(a.follower_rotations, c.follower_rotations)
