"""Duet metrics: cross distances, beat echo, foot slip (both forms), segment distance, contact."""

import numpy as np
import pytest

from data.errors import InputError

from data.skeleton import get_skeleton
from metrics.duet import (
    DUET_KEY_JOINTS, beat_echo_degree, cross_distance_features, mesh_contact, pooled_rate, slip_frames_corrected,
    slip_frames_reference,
)


def test_cross_distances_hand_value():
    follower = np.zeros((7, 24, 3))
    leader = np.zeros((9, 24, 3))
    leader[..., 0], leader[..., 1] = 3.0, 4.0  # every leader joint 5 m from every follower joint
    f = cross_distance_features(follower, leader)
    assert f.shape == (100,) and np.allclose(f, 5.0)
    # follower-joint-major: moving the follower's head (key 5) changes row 5 only
    follower[:, 15, 0] = 3.0
    g = cross_distance_features(follower, leader).reshape(10, 10)
    assert np.allclose(g[5], 4.0) and np.allclose(np.delete(g, 5, axis=0), 5.0)
    assert len(DUET_KEY_JOINTS) == 10


def test_beat_echo_of_a_copy_is_one(synth):
    joints = synth.beat_dance(2, seconds=6, fps=30)[0].joints
    assert beat_echo_degree(joints, joints) == 1.0
    still = np.repeat(joints[:1], len(joints), axis=0)
    assert beat_echo_degree(still, joints) == 0.0  # a follower without motion beats echoes nothing
    # echoing half a beat late (the leader swings with period P frames): exp(-(P/2)² / 18) per beat
    assert beat_echo_degree(joints[7:], joints[:-7]) < 0.1


def _glide(axis: int, step: float, T: int = 11) -> np.ndarray:
    """Rest pose translated ``step`` m per frame along ``axis``: the feet move with the pelvis."""
    x = np.repeat(get_skeleton("smpl24").rest_joints()[None], T, axis=0)
    x[:, :, axis] += step * np.arange(T)[:, None]
    return x


def test_slip_reference_and_corrected_hand_values():
    # gliding forward (z) 5 cm/frame with rigid legs: the reference zeroes z, so it sees no pelvis motion
    forward = _glide(2, 0.05)
    assert slip_frames_reference(forward) == (0, 10)
    assert slip_frames_corrected(forward, fps=30) == (10, 10)  # 1.5 m/s > 0.9 m/s, ankles still
    # gliding sideways (x): both see it; the reference never tests the first step
    sideways = _glide(0, 0.05)
    assert slip_frames_reference(sideways) == (9, 10)
    assert slip_frames_corrected(sideways, fps=30) == (10, 10)
    # rising (y, the up axis) is a slip for the reference only (it keeps y), not a horizontal glide
    rising = _glide(1, 0.05)
    assert slip_frames_reference(rising) == (9, 10)
    assert slip_frames_corrected(rising, fps=30) == (0, 10)
    assert pooled_rate([(9, 10), (0, 10)]) == pytest.approx(45.0)


def _sphere(center, radius=0.1, n=400):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(n, 3))
    return np.asarray(center) + radius * v / np.linalg.norm(v, axis=1, keepdims=True)


def test_mesh_contact_by_vertex_proximity_without_cross_frame_leaks():
    a = np.stack([_sphere([0, 0, 0]), _sphere([0, 0, 0]), _sphere([5, 0, 0])])
    # frame 0: touching spheres (surfaces 5 mm apart); frame 1: 30 cm apart; frame 2: B sits where A was
    # in frame 0, far from A's frame-2 position: frames must not see each other's vertices
    b = np.stack([_sphere([0.205, 0, 0]), _sphere([0.5, 0, 0]), _sphere([0.205, 0, 0])])
    assert mesh_contact(a, b, block=2).tolist() == [True, False, False]
    assert mesh_contact(a, b, block=64).tolist() == [True, False, False]


def _fake_smplx_models(root, gender: str = "NEUTRAL", scale: float = 1.0):
    """A stand-in SMPL-X model file in smplx's format: real mesh size, vertices skinned rigidly to joints
    (the rest skeleton's joints times ``scale``: a taller or shorter body)."""
    sk = get_skeleton("smplx55")
    J, V = sk.num_joints, 10475
    rng = np.random.default_rng(0)
    joint_of = np.minimum(np.arange(V) % 80, J - 1)  # every vertex rides on one joint
    v_template = sk.rest_joints()[joint_of] + rng.normal(scale=0.03, size=(V, 3))
    J_regressor = np.zeros((J, V))
    J_regressor[np.arange(J), np.arange(J)] = 1.0
    v_template[:J] = sk.rest_joints()  # the regressor reads the joints off the first J vertices
    v_template *= scale
    weights = np.zeros((V, J))
    weights[np.arange(V), joint_of] = 1.0
    kintree = np.array([[2**32 - 1] + list(sk.parents[1:]), list(range(J))], dtype=np.int64)
    (root / "smplx").mkdir(parents=True, exist_ok=True)
    np.savez(root / "smplx" / f"SMPLX_{gender}.npz", v_template=v_template, J_regressor=J_regressor,
             weights=weights, kintree_table=kintree, shapedirs=np.zeros((V, 3, 20)),
             posedirs=np.zeros((V, 3, 54 * 9)), f=np.array([[0, 1, 2]], dtype=np.int64),
             hands_componentsl=np.eye(45), hands_componentsr=np.eye(45), hands_meanl=np.zeros(45),
             hands_meanr=np.zeros(45), lmk_faces_idx=np.zeros(51, dtype=np.int64),
             lmk_bary_coords=np.full((51, 3), 1 / 3))
    return root


def test_mesh_contact_path_with_model_files(tmp_path, synth):
    from data.body_model import BodyModel
    from metrics.duet import body_vertices
    from metrics.evaluate import run_evaluate

    models = _fake_smplx_models(tmp_path / "models")
    follower, _ = synth.beat_dance(1, seconds=1, fps=30, skeleton="smplx55")
    verts = body_vertices(follower, BodyModel(models, model_type="smplx"))
    assert verts.shape == (30, 10475, 3)
    assert mesh_contact(verts, verts).all()
    assert not mesh_contact(verts, verts + np.array([3.0, 0, 0])).any()

    synth.write_duet_corpus(tmp_path / "duets", range(2), seconds=1.0)
    r = run_evaluate("duet", tmp_path / "duets", tmp_path / "duets", smplx_models=models, use_cache=False)
    row = r["metrics"]["contact% (mesh)"]
    assert 0.0 <= row["pred"] <= 100.0 and row["pred"] == row["reference"]


def test_with_model_files_every_joint_comes_from_each_files_gendered_model(tmp_path, synth, monkeypatch):
    from data.body_model import BodyModels
    from data.formats import load_motion, save_motion
    from metrics.evaluate import run_evaluate

    models = _fake_smplx_models(tmp_path / "models")
    _fake_smplx_models(tmp_path / "models", "FEMALE", scale=1.2)  # a 20 % larger body
    synth.write_duet_corpus(tmp_path / "duets", range(2), seconds=1.0)
    follower = load_motion(tmp_path / "duets" / "duet000_00.npz")
    follower.extras["gender"] = "female"
    bodies = BodyModels(models)
    female = bodies.joints(follower)
    neutral = bodies.joints(load_motion(tmp_path / "duets" / "duet001_00.npz"))  # no gender: neutral
    np.testing.assert_allclose(neutral, load_motion(tmp_path / "duets" / "duet001_00.npz").joints, atol=1e-4)
    assert not np.allclose(female, follower.joints, atol=1e-2)  # the female model's joints, not the file's
    with pytest.raises(InputError, match="SMPLX_MALE"):
        bodies.get("male")
    # evaluate takes every dancer's joints from its model (each file's gender)
    save_motion(follower, tmp_path / "duets" / "duet000_00.npz", "npz")
    seen = []
    original = BodyModels.joints
    monkeypatch.setattr(BodyModels, "joints", lambda self, m: seen.append((m.name, m.extras.get("gender")))
                        or original(self, m))
    run_evaluate("duet", tmp_path / "duets", tmp_path / "duets", smplx_models=models, use_cache=False)
    assert sorted(g or "-" for _, g in seen) == ["-"] * 6 + ["female"] * 2  # 4 dancers, as pred and reference


def test_missing_model_files_are_an_input_error(tmp_path):
    from data.errors import InputError
    from metrics.evaluate import run_evaluate

    with pytest.raises(InputError, match="SMPLX_NEUTRAL"):
        run_evaluate("duet", tmp_path, tmp_path, smplx_models=tmp_path / "no_models", use_cache=False)
