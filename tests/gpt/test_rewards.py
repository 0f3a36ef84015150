"""Rewards against hand-made dances."""

from __future__ import annotations

import numpy as np

from data.skeleton import get_skeleton
from gpt.rewards import beat_reward, facing, orientation_reward, per_token, skating_reward


def rest_pose(T: int) -> np.ndarray:
    sk = get_skeleton("smpl24")
    from data.fk import forward_kinematics
    import torch

    j = forward_kinematics(sk, torch.zeros(T, 24, 3, dtype=torch.float64), torch.zeros(T, 3, dtype=torch.float64))
    return j.numpy()[None]  # (1, T, 24, 3)


def test_per_token_reductions():
    x = np.array([[0, 1, 0, 0, 2, 2, 5]], dtype=float)  # 7 frames, tokens of 2: the last is short
    assert per_token(x, 2, "any").tolist() == [[1, 0, 1, 1]]
    assert per_token(x, 2, "mean").tolist() == [[0.5, 0.0, 2.0, 5.0]]
    assert per_token(x, 2, "min").tolist() == [[0, 0, 2, 5]]


def test_rest_pose_faces_forward_and_agrees():
    j = rest_pose(16)
    sk = get_skeleton("smpl24")
    f = facing(j, sk.index("left_hip"), sk.index("right_hip"))
    assert f[0, 0, 2] > 0.99  # forward (the SMPL rest hips are a little asymmetric)
    assert orientation_reward(j, 8).tolist() == [[1.0, 1.0]]


def test_a_torso_turned_backwards_is_penalised_in_its_token():
    j = rest_pose(16)
    sk = get_skeleton("smpl24")
    l, r = sk.index("left_collar"), sk.index("right_collar")
    j[0, 10, [l, r]] = j[0, 10, [r, l]]  # frame 10 (token 1): the shoulders swap sides
    assert orientation_reward(j, 8).tolist() == [[1.0, -1.0]]


def test_beat_reward_paper_form():
    T, f = 48, 8
    t = np.arange(T)
    j = np.zeros((1, T, 24, 3))
    # every joint swings with a period of 16 frames: speed minima every 8 frames (at 0, 8, 16, ...)
    j[0, :, :, 0] = np.cos(2 * np.pi * t / 16)[:, None]
    music = np.zeros((1, T), dtype=bool)
    music[0, [4, 20]] = True  # beats in tokens 0 and 2
    r = beat_reward(j, music, f)
    assert r.shape == (1, 6)
    assert set(np.unique(r)) <= {-1.0, 1.0}
    assert (r[0, [1, 3, 4, 5]] == 1).all()  # no music beat: +1 whatever the dance does
    still = np.zeros((1, T, 24, 3))  # a dance that never moves has no speed minima
    assert beat_reward(still, music, f)[0, [0, 2]].tolist() == [-1.0, -1.0]


def test_skating_reward_penalises_a_sliding_planted_foot():
    j = rest_pose(24)
    planted = skating_reward(j, 60.0, 8)
    slid = j.copy()
    slid[0, :, [7, 10], 0] += np.arange(24)[None, :] * (0.6 / 60)  # the left foot slides at 0.6 m/s
    assert np.allclose(planted, 0.0)
    assert (skating_reward(slid, 60.0, 8) < -0.2).all()
