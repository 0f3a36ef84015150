"""The interaction GPT's training stage: facts from the tokenizer checkpoints, whole-duet tokens, the
leader's context in a window, checks on the data, and the checkpoint the follower loads."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from duet.lightning import DuetGPTStage
from duet.model import TRANSLATION
from duet.pretrained import Follower
from tests.duet.conftest import ToyDuetData, duet_music_sequences, tiny_gpt_config
from tests.gpt.conftest import tokenizer_ckpt  # noqa: F401  (a solo tokenizer checkpoint fixture)


def fitted_stage(duet_tokenizers, steps: int = 0, margin: int = 12):
    stage = DuetGPTStage(*duet_tokenizers, gpt=tiny_gpt_config(),
                         optimizer={"lr": 3e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    data = ToyDuetData(duet_music_sequences(3, 64), music_margin=margin)
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(stage, datamodule=data)
    return stage, data


def test_facts_come_from_the_tokenizer_checkpoints(duet_tokenizers):
    stage, _ = fitted_stage(duet_tokenizers)
    c = stage.config
    assert c.parts == ("upper", "lower", "lhand", "rhand") and c.codebook_size == 16
    assert c.translation_codebook_size == 8 and c.frames_per_token == 4 and c.music_dim == 55
    assert stage.gpt.streams == (*c.parts, TRANSLATION)
    hp = stage.hparams
    assert hp["task"] == "duet" and hp["translation_config"]["part"]["codebook_size"] == 8


def test_window_tokens_are_the_whole_duet_tokens_and_the_leader_has_its_reach(duet_tokenizers):
    stage, data = fitted_stage(duet_tokenizers)
    name = data.seqs[1].name
    table = stage._sequence_tokens[name]
    follower, leader, margin = stage.duet_tokens([name, name], torch.tensor([0, 16]), 8, torch.device("cpu"))
    assert margin == max(stage.config.leader_reach) == 2
    assert torch.equal(follower["upper"][1], table["follower"]["upper"][4:12])
    assert torch.equal(follower[TRANSLATION][0], table["follower"][TRANSLATION][:8])
    assert torch.equal(leader["lower"][1], table["leader"]["lower"][2:14])  # 2 tokens either side
    assert (leader["lower"][0, :2] == stage.gpt.pad_token).all()  # before the song: "no leader"
    assert torch.equal(leader["lower"][0, 2:], table["leader"]["lower"][:10])
    with pytest.raises(ValueError, match="multiple of the token stride"):
        stage.duet_tokens([name], torch.tensor([3]), 8, torch.device("cpu"))


def test_training_lowers_the_loss_and_the_checkpoint_loads_as_a_follower(duet_tokenizers, tmp_path):
    torch.manual_seed(0)
    stage, data = fitted_stage(duet_tokenizers)
    batch = next(iter(data.train_dataloader()))
    stage.eval()
    with torch.no_grad():
        before = float(stage.losses(batch)["loss"])
    stage.train()
    trainer = pl.Trainer(max_steps=30, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(stage, datamodule=data)
    stage.eval()
    with torch.no_grad():
        after = float(stage.losses(batch)["loss"])
    assert after < before - 1.0  # five streams of cross-entropy; a toy set is learnt quickly
    path = tmp_path / "gpt.ckpt"
    trainer.save_checkpoint(path)
    follower = Follower.from_checkpoint(path)
    ref = dict(stage.gpt.state_dict())
    assert all(torch.equal(v, ref[k]) for k, v in follower.gpt.state_dict().items())
    assert follower.translation.frame == "leader" and follower.fps == 30.0


def test_the_stage_checks_the_music_margin_and_the_tokenizer_kind(duet_tokenizers, tmp_path):
    with pytest.raises(ValueError, match="music_margin >= 12"):
        fitted_stage(duet_tokenizers, margin=4)



def test_the_stage_refuses_a_solo_tokenizer(tokenizer_ckpt, duet_tokenizers):
    with pytest.raises(ValueError, match="needs the duet tokenizer"):
        fitted_stage((tokenizer_ckpt, duet_tokenizers[1]))
