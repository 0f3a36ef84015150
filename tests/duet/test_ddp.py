"""Two CPU processes (gloo, ddp_spawn) train the interaction GPT and fine-tune it off-policy with a
replay memory: both ranks end with identical weights (the policy, the critic, the KL anchor, both frozen
tokenizers' codebooks and the music statistics), although each saw different windows and replayed
its own rollouts."""

import os

import lightning.pytorch as pl
import pytest

from tests.duet.conftest import ToyDuetData, duet_music_sequences, tiny_gpt_config
from tests.gpt.test_ddp import OPTIMIZER, TRAINER, changed, rank_dumps
from tests.tokenizer.conftest import StateDump


class MemoryDump(StateDump):
    """:class:`StateDump` plus what the RL stage's replay memory holds: each window's duet and first token."""

    def extra(self, pl_module) -> dict:
        return {"memory": [(item["name"], int(item["first"])) for item in pl_module.memory.items]}


@pytest.mark.timeout(300)  # a missing loopback interface makes gloo hang silently
def test_two_process_fit_of_the_interaction_gpt_keeps_weights_identical(duet_tokenizers, tmp_path, monkeypatch):
    from duet.lightning import DuetGPTStage

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    pl.seed_everything(0)
    stage = DuetGPTStage(*duet_tokenizers, gpt=tiny_gpt_config(), optimizer=OPTIMIZER)
    data = ToyDuetData(duet_music_sequences(3, 64), music_margin=12, batch_size=2)
    trainer = pl.Trainer(max_steps=3, callbacks=[StateDump(str(tmp_path), key="leader_joints")], **TRAINER)
    trainer.fit(stage, datamodule=data)

    ranks = rank_dumps(tmp_path)  # every entry, at the start and at the end
    start, end = ranks[0]["start"], ranks[0]["end"]
    assert any(k.startswith("tokenizer.") and k.endswith("_codebook.embed") for k in end)
    assert any(k.startswith("translation.") and k.endswith("_codebook.embed") for k in end)
    assert not changed(start, end, "tokenizer.") and not changed(start, end, "translation.")  # frozen
    assert changed(start, end, "gpt.heads.") and changed(start, end, "gpt.leader_encoder.")
    assert not os.environ.get("RANK")  # the parent is not a rank: the test really spawned


@pytest.mark.timeout(300)
def test_two_process_off_policy_rl_keeps_policy_critic_and_anchor_identical(duet_gpt_ckpt, tmp_path, monkeypatch):
    from duet.rl import DuetRLStage

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    pl.seed_everything(0)
    # 3 steps of 2 windows a rank, 2 replayed from the second step on; the memory never fills
    rl = dict(replay_size=8, replay_batch=2, critic_layers=1, beat_weight=0.5, orientation_weight=0.5)
    stage = DuetRLStage(duet_gpt_ckpt, rl, OPTIMIZER)
    data = ToyDuetData(duet_music_sequences(3, 64), music_margin=12, batch_size=2)
    trainer = pl.Trainer(max_steps=3, callbacks=[MemoryDump(str(tmp_path), key="leader_joints")], **TRAINER)
    trainer.fit(stage, datamodule=data)

    ranks = rank_dumps(tmp_path)  # the policy, its critic, the KL anchor and both tokenizers: every entry
    start, end = ranks[0]["start"], ranks[0]["end"]
    assert any(k.startswith("reference.") for k in end) and any(k.startswith("critic.") for k in end)
    assert changed(start, end, "gpt.heads.") and changed(start, end, "gpt.transformer.blocks.1.")
    assert changed(start, end, "critic.transformer.") and changed(start, end, "critic.value.")
    assert not changed(start, end, "reference.") and not changed(start, end, "gpt.transformer.blocks.0.")
    assert not changed(start, end, "tokenizer.") and not changed(start, end, "translation.")
    # each rank remembers its own rollouts (6 windows), and they are different windows
    memories = [r["memory"] for r in ranks]
    assert len(memories[0]) == len(memories[1]) == 6
    assert not set(memories[0]) & set(memories[1])
    assert not os.environ.get("RANK")
