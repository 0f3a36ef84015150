"""Actor-critic fine-tuning: GAE by hand, the critic's start, what trains and what stays frozen, and
that an RL checkpoint dances."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from data.datamodules import SoloDataset
from gpt.pretrained import SoloDancer
from gpt.rl import RLConfig, SoloRLStage, gae
from tests.gpt.conftest import music_sequences


def test_gae_by_hand():
    r = torch.tensor([[1.0, 0.0, 2.0]])
    v = torch.full((1, 3), 0.5)
    adv, ret = gae(r, v, gamma=0.5, lam=1.0)
    # deltas: r + 0.5 * 0.5 - 0.5 = [0.75, -0.25, 1.75] (the last bootstraps from its own value)
    assert torch.allclose(adv, torch.tensor([[1.0625, 0.625, 1.75]]))
    assert torch.allclose(ret, adv + 0.5)
    td0, _ = gae(r, v, gamma=0.5, lam=0.0)
    assert torch.allclose(td0, torch.tensor([[0.75, -0.25, 1.75]]))


@pytest.mark.parametrize("bad", [dict(temperature=0.0), dict(gamma=1.5), dict(kl_weight=-1.0), dict(critic_layers=0)])
def test_rl_config_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        RLConfig(**bad)


def test_actor_critic_trains_the_head_and_critic_only(gpt_ckpt, tmp_path):
    torch.manual_seed(0)
    stage = SoloRLStage(gpt_ckpt, {"critic_layers": 1}, {"lr": 1e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    stage.configure_model()
    assert float(stage.critic.value.weight.detach().abs().sum()) == 0.0  # values start at 0, no sign bias
    before = {k: v.clone() for k, v in stage.state_dict().items()}
    ds = SoloDataset(music_sequences(2, 128), 64, 16, music_margin=8)
    trainer = pl.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(stage, DataLoader(ds, batch_size=4, shuffle=True))
    after = stage.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("gpt.transformer.blocks.1.") for k in changed)  # the head trains
    assert any(k.startswith("gpt.heads.") for k in changed) and any(k.startswith("critic.") for k in changed)
    frozen = ("gpt.transformer.blocks.0.", "gpt.music_in.", "gpt.token_embedding.", "reference.", "tokenizer.")
    assert not any(k.startswith(frozen) for k in changed), sorted(k for k in changed if k.startswith(frozen))
    path = tmp_path / "rl.ckpt"
    trainer.save_checkpoint(path)
    dancer = SoloDancer.from_checkpoint(path)  # an RL checkpoint is a dance checkpoint
    for k, v in dancer.gpt.state_dict().items():
        assert torch.equal(v, after[f"gpt.{k}"])
    music = torch.zeros(40, 55)
    [dance] = dancer.dance([music], generator=torch.Generator().manual_seed(0))
    assert dance.motion.num_frames == 40 and dance.tokens["upper"].shape == (5,)


def test_actor_critic_keeps_the_music_encoder_frozen(encoder_gpt_ckpt, tmp_path):
    torch.manual_seed(0)
    stage = SoloRLStage(encoder_gpt_ckpt, {"critic_layers": 1}, {"lr": 1e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    stage.configure_model()
    assert stage.gpt.music_encoder is not None
    before = {k: v.clone() for k, v in stage.state_dict().items()}
    ds = SoloDataset(music_sequences(2, 128), 64, 16, music_margin=24)
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(stage, DataLoader(ds, batch_size=4, shuffle=True))
    changed = {k for k, v in stage.state_dict().items() if not torch.equal(before[k], v)}
    assert any(k.startswith("gpt.heads.") for k in changed)
    assert not any(k.startswith("gpt.music_encoder.") for k in changed)
