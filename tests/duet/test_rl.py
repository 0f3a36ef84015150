"""Duet RL: the rewards by hand, the replay memory, and the stage (frozen base, replayed rollouts with
importance weights, memory in the checkpoint, a checkpoint the follower loads)."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from duet.pretrained import Follower
from duet.rewards import distance_reward, echo_reward, travel_reward
from duet.rl import REPLAY_KEY, DuetRLConfig, DuetRLStage, ReplayMemory
from tests.duet.conftest import ToyDuetData, duet_music_sequences
from tests.tokenizer.conftest import toy_motion


def test_travel_reward_punishes_legs_that_disagree_with_the_travel():
    T, f, fps = 8, 4, 30.0
    root = np.zeros((1, T, 3))
    root[0, :, 0] = np.arange(T) * (1.0 / fps)  # 1 m/s along x
    legs = np.zeros((1, T, 3))
    legs[0, :, 0] = 1.0 / fps  # the legs say 1 m/s too
    np.testing.assert_allclose(travel_reward(legs, root, fps, f, tolerance=0.3), [[0.0, 0.0]])
    still = np.zeros((1, T, 3))  # the legs stand while the body glides: 1 m/s mismatch, 0.7 beyond tolerance
    np.testing.assert_allclose(travel_reward(still, root, fps, f, tolerance=0.3), [[-0.7, -0.7]], atol=1e-12)


def test_distance_reward_is_zero_in_the_band_and_minus_the_metres_outside():
    leader = np.zeros((1, 8, 3))
    follower = np.zeros((1, 8, 3))
    follower[0, :4, 0] = 1.0  # 1 m: inside [0.4, 2]
    follower[0, 4:, 2] = 3.0  # 3 m: 1 m too far
    follower[0, 4:, 1] = 5.0  # height does not count
    np.testing.assert_allclose(distance_reward(leader, follower, 4, 0.4, 2.0), [[0.0, -1.0]])
    np.testing.assert_allclose(distance_reward(leader, np.zeros((1, 8, 3)), 4, 0.4, 2.0), [[-0.4, -0.4]])


def test_echo_reward_answers_the_leaders_beats():
    lead = toy_motion(1, 64, "smplx55", 30.0).joints[None]
    assert (echo_reward(lead, lead, 4) == 1.0).all()  # the same motion echoes every beat
    still = np.repeat(lead[:, :1], 64, axis=1)  # a follower who stands: no beats, -1 wherever the leader has one
    r = echo_reward(still, lead, 4)
    assert (r == -1.0).any() and set(np.unique(r)) <= {-1.0, 1.0}


def test_replay_memory_keeps_the_newest_and_round_trips():
    m = ReplayMemory(3)
    for k in range(5):
        m.push({"rewards": torch.full((1, 2), float(k)), "tokens": {"a": torch.full((1, 2), k)}})
    assert len(m) == 3 and sorted(float(i["rewards"][0]) for i in m.items) == [2.0, 3.0, 4.0]
    other = ReplayMemory(1)
    other.load(m.state())
    assert len(other) == 3 and other.capacity == 3
    batch = other.sample(4, torch.Generator().manual_seed(0))
    assert len(batch) == 4 and all(i["tokens"]["a"].shape == (2,) for i in batch)
    with pytest.raises(ValueError, match="near < far"):
        DuetRLConfig(near=2.0, far=1.0)


def test_rl_trains_the_head_replays_rollouts_and_saves_its_memory(duet_gpt_ckpt, tmp_path):
    torch.manual_seed(0)
    rl = dict(replay_size=6, replay_batch=2, critic_layers=1, kl_weight=0.05, beat_weight=0.5, orientation_weight=0.5)
    stage = DuetRLStage(duet_gpt_ckpt, rl, {"lr": 1e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    data = ToyDuetData(duet_music_sequences(3, 64), music_margin=12, batch_size=2)
    trainer = pl.Trainer(max_steps=4, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    before = {k: v.clone() for k, v in Follower.from_checkpoint(duet_gpt_ckpt).gpt.state_dict().items()}
    trainer.fit(stage, datamodule=data)
    after = stage.gpt.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("heads.") for k in changed)
    frozen = ("transformer.blocks.0.", "leader_in.", "leader_encoder.", "music_encoder.", "music_in.", "token_embedding.")
    assert not any(k.startswith(frozen) for k in changed)
    assert len(stage.memory) == 6  # 4 steps x 2 windows, capped at 6
    item = stage.memory.items[0]
    assert set(item) == {"name", "first", "tokens", "rewards", "behaviour_logp"}  # no activations kept
    # a replayed window's conditions are rebuilt exactly as its rollout computed them
    batch = next(iter(data.train_dataloader()))
    first, N = (batch["start"] // 4).tolist(), batch["leader_joints"].shape[1] // 4
    fresh = stage.conditions(batch["name"], first, batch["music"], N)
    rebuilt = stage.replayed_conditions({"name": batch["name"], "first": torch.tensor(first)}, N, "cpu")
    for k in fresh:
        torch.testing.assert_close(rebuilt[k], fresh[k])
    path = tmp_path / "rl.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    assert len(ckpt[REPLAY_KEY]["items"]) == 6
    follower = Follower.from_checkpoint(path)  # an interaction GPT checkpoint, as follow reads it
    assert all(torch.equal(v, after[k]) for k, v in follower.gpt.state_dict().items())
    resumed = DuetRLStage(duet_gpt_ckpt, rl)
    resumed.on_load_checkpoint(ckpt)
    assert len(resumed.memory) == 6
