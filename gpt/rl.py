"""Actor-critic fine-tuning of the solo GPT, on training songs only.

Each training step samples a batch of windows from the *training* split (music only: the dances are
the policy's own), and for each:

1. **rollout**: the policy dances to the window's music through :func:`gpt.sampling.generate` (the
   function ``cli.py dance`` uses), sampling at ``temperature`` (Bailando reinforces its own greedy
   argmax, which gives the gradient nothing to compare);
2. **rewards** per token from the decoded dance (:mod:`gpt.rewards`): beat alignment (paper form),
   foot skating, upper/lower orientation, each weighted in :class:`RLConfig`;
3. **critic**: a small transformer on the frozen base's output with a value head initialised to zero
   (Bailando's critic starts with all-positive weights), trained on the GAE returns;
4. **actor**: the policy gradient with GAE advantages (normalised), plus a KL anchor to the supervised
   policy (exact per-step KL over the codebook) so the dance stays a dance while the reward is
   chased, and an optional entropy bonus.

The base (embeddings, the music encoder if any, and the first ``frozen_layers`` blocks) stays frozen
as in Bailando; the head blocks, the final norm and the output heads train. Because sliding-window attention makes the
teacher-forced pass over a rollout compute exactly the logits the cached generation sampled from,
the log-probabilities and KL are those of the actions taken.

The checkpoint is a solo GPT checkpoint like :class:`gpt.lightning.SoloGPTStage`'s (same keys), so
``cli.py dance`` reads it as it is.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from data.errors import is_non_negative, is_positive_int
from data.music import get_feature_set
from gpt.pretrained import SoloDancer, dance_hparams
from gpt.rewards import beat_reward, orientation_reward, skating_reward
from gpt.sampling import SamplingConfig, generate
from gpt.solo import SoloGPT, shift_right
from gpt.transformer import Transformer, step_index
from training.config import coerce_config
from training.optim import OptimizerConfig
from training.stage import Stage, StageName


@dataclass
class RLConfig:
    """Actor-critic settings."""

    temperature: float = 1.0
    """Sampling temperature of the rollouts (1: the policy's own distribution)."""
    gamma: float = 0.95
    """Discount per token step (Bailando: 1.0, no discount)."""
    gae_lambda: float = 0.9
    """GAE's bias/variance trade (1: Monte-Carlo returns, 0: TD(0) as Bailando)."""
    kl_weight: float = 0.05
    """Weight of KL(policy || supervised policy) per step."""
    entropy_weight: float = 0.0
    """Weight of the entropy bonus."""
    value_weight: float = 0.5
    """Weight of the critic's squared error."""
    beat_weight: float = 1.0
    """Weight of the beat reward (+-1 per token)."""
    skating_weight: float = 1.0
    """Weight of the skating penalty (m/s of feet sliding on the floor)."""
    orientation_weight: float = 0.5
    """Weight of the orientation reward (+-1 per token)."""
    critic_layers: int = 2
    """Transformer blocks of the critic (same width and window as the policy)."""

    def __post_init__(self) -> None:
        for name in ("temperature", "kl_weight", "entropy_weight", "value_weight", "beat_weight",
                     "skating_weight", "orientation_weight"):
            if not is_non_negative(getattr(self, name)):
                raise ValueError(f"RLConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.temperature == 0:
            raise ValueError("RLConfig.temperature must be > 0: the policy gradient needs sampled actions")
        for name in ("gamma", "gae_lambda"):
            v = getattr(self, name)
            if not (is_non_negative(v) and v <= 1):
                raise ValueError(f"RLConfig.{name} must be in [0, 1], got {v!r}")
        if not is_positive_int(self.critic_layers):
            raise ValueError(f"RLConfig.critic_layers must be a positive integer, got {self.critic_layers!r}")


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns, ``(B, N)`` each, of a window cut from a longer
    dance: the value after the last step bootstraps from the last value (a truncation, not an end)."""
    B, N = rewards.shape
    next_values = torch.cat([values[:, 1:], values[:, -1:]], dim=1)
    deltas = rewards + gamma * next_values - values
    adv = torch.zeros_like(rewards)
    running = torch.zeros(B, dtype=rewards.dtype, device=rewards.device)
    for t in range(N - 1, -1, -1):
        running = deltas[:, t] + gamma * lam * running
        adv[:, t] = running
    return adv, adv + values


class Critic(nn.Module):
    """Value of every step from the frozen base's hidden states: a few transformer blocks and a linear
    head per part stream (summed, as Bailando's v_up + v_down), the head initialised to zero."""

    def __init__(self, policy: SoloGPT, layers: int) -> None:
        super().__init__()
        cfg = replace(policy.config.transformer, n_layer=layers, dropout=0.0)
        self.tokens_per_step = policy.config.tokens_per_step
        self.conditions = policy.config.num_conditions
        self.transformer = Transformer(cfg)
        self.value = nn.Linear(cfg.n_embd, 1)
        nn.init.zeros_(self.value.weight)
        nn.init.zeros_(self.value.bias)

    def forward(self, base: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        h = self.transformer(base, steps)  # (B, n * S, D)
        h = h.view(h.shape[0], -1, self.tokens_per_step, h.shape[-1])  # (B, n, S, D)
        return self.value(h[:, :, self.conditions:]).squeeze(-1).sum(-1)  # (B, n)


def teacher_forced(policy: SoloGPT, reference: SoloGPT, critic: Critic, condition: Mapping[str, torch.Tensor],
                   tokens: Mapping[str, torch.Tensor], temperature: float) -> dict[str, torch.Tensor]:
    """The policy over a rollout, teacher-forced: per step ``(B, N)`` the log-probability of the taken
    tokens under the sampling distribution (summed over streams, with gradients above the frozen base),
    the exact KL to the reference policy, the entropy, and the critic's value.

    Sliding-window attention makes these the logits the cached generation sampled from. The reference
    shares the frozen base (embeddings, encoders, first ``frozen_layers`` blocks): only its head runs."""
    B, N = next(iter(tokens.values())).shape
    S, frozen = policy.config.tokens_per_step, policy.config.frozen_layers
    prev = shift_right(tokens, policy.start_ids)
    steps = step_index(N, S, device=prev[policy.streams[0]].device)
    with torch.no_grad():
        x = policy.embed_steps(condition, prev)
        base = policy.transformer(x, steps, layers=slice(0, frozen), final_norm=False)
        ref = reference.logits(reference.transformer(base, steps, layers=slice(frozen, None)).view(B, N, S, -1))
    logits = policy.logits(policy.transformer(base, steps, layers=slice(frozen, None)).view(B, N, S, -1))
    out = {k: torch.zeros(B, N, device=steps.device) for k in ("logp", "kl", "entropy")}
    for p, lg in logits.items():
        logp = F.log_softmax(lg.float() / temperature, dim=-1)  # the sampling distribution
        out["logp"] = out["logp"] + logp.gather(-1, tokens[p][..., None])[..., 0]
        full = F.log_softmax(lg.float(), dim=-1)
        out["kl"] = out["kl"] + (full.exp() * (full - F.log_softmax(ref[p].float(), dim=-1))).sum(-1)
        out["entropy"] = out["entropy"] - (logp.exp() * logp).sum(-1)
    out["values"] = critic(base, steps)  # (B, N)
    return out


def actor_critic_loss(terms: Mapping[str, torch.Tensor], rewards: torch.Tensor, rl: "RLConfig",
                      behaviour_logp: torch.Tensor | None = None, clip: float = 0.2) -> dict[str, torch.Tensor]:
    """The actor-critic objective of :func:`teacher_forced`'s terms and per-step rewards ``(B, N)``:
    GAE advantages (normalised) from the critic's values, the critic's squared error on the returns, the
    KL anchor and the entropy bonus. On-policy (``behaviour_logp`` None) the policy gradient is
    ``-A log pi``; off-policy (rollouts replayed from an older policy, ``behaviour_logp`` their
    log-probabilities when sampled) it is PPO's clipped importance-weighted surrogate, which equals the
    on-policy gradient while the policy has not moved."""
    values = terms["values"]
    adv, returns = gae(rewards, values.detach(), rl.gamma, rl.gae_lambda)
    adv_n = (adv - adv.mean()) / (adv.std() + 1e-6)
    if behaviour_logp is None:
        policy_loss = -(adv_n * terms["logp"]).mean()
    else:
        ratio = torch.exp(terms["logp"] - behaviour_logp)
        policy_loss = -torch.minimum(ratio * adv_n, ratio.clamp(1 - clip, 1 + clip) * adv_n).mean()
    value_loss = F.mse_loss(values, returns)
    kl, entropy = terms["kl"].mean(), terms["entropy"].mean()
    loss = policy_loss + rl.value_weight * value_loss + rl.kl_weight * kl - rl.entropy_weight * entropy
    return {"loss": loss, "policy_loss": policy_loss.detach(), "value_loss": value_loss.detach(),
            "kl": kl.detach(), "entropy": entropy.detach()}


class SoloRLStage(Stage):
    """Actor-critic fine-tuning of a trained solo GPT (see the module docstring).

    Args:
        gpt: the solo GPT checkpoint to start from (``SoloGPTStage``, or an earlier RL checkpoint).
        rl: the actor-critic settings.
        optimizer: optimiser and schedule (Bailando: Adam 1e-5).
    """

    def __init__(self, gpt: str, rl: RLConfig | dict | None = None, optimizer: OptimizerConfig | dict | None = None
                 ) -> None:
        super().__init__(optimizer)
        self.init_path = str(gpt)
        self.rl = coerce_config(RLConfig, rl)
        self.gpt: SoloGPT | None = None  # built in configure_model (read from the checkpoint then)
        self.reference: SoloGPT | None = None
        self.critic: Critic | None = None
        self.tokenizer = None
        self.save_hyperparameters({"gpt_checkpoint": self.init_path, "rl": asdict(self.rl),
                                   "optimizer": asdict(self.optim_config)})

    # -- building ------------------------------------------------------------------------------------
    def configure_model(self) -> None:
        if self.gpt is not None:
            return
        dancer = SoloDancer.from_checkpoint(self.init_path)
        self.gpt, self.tokenizer = dancer.gpt, dancer.tokenizer
        self.reference = copy.deepcopy(self.gpt)
        for p in [*self.reference.parameters(), *self.tokenizer.parameters()]:
            p.requires_grad_(False)
        frozen = self.gpt.config.frozen_layers
        base = [self.gpt.music_in, self.gpt.genre_embedding, *self.gpt.token_embedding.values(),
                *self.gpt.transformer.blocks[:frozen]]
        if self.gpt.music_encoder is not None:
            base.append(self.gpt.music_encoder)
        for module in base:
            for p in module.parameters():
                p.requires_grad_(False)
        self.critic = Critic(self.gpt, self.rl.critic_layers)
        # The keys SoloDancer reads, so this checkpoint dances as it is.
        self.save_hyperparameters({**dict(self.hparams), **dance_hparams(self.gpt.config, self.tokenizer,
                                                                         dancer.feature_set, dancer.root_start.tolist())})

    def train(self, mode: bool = True):
        super().train(mode)
        for m in (self.gpt, self.reference, self.tokenizer):  # no dropout in rollouts or updates (Bailando)
            if m is not None:
                m.eval()
        return self

    # -- the step ------------------------------------------------------------------------------------
    def rewards(self, tokens: Mapping[str, torch.Tensor], music_beats: np.ndarray) -> dict[str, torch.Tensor]:
        """Decoded dances -> per-token rewards ``(B, N)`` (each term and the weighted ``total``)."""
        with torch.no_grad():
            joints = self.tokenizer.model.decode(dict(tokens))["joints"].double().cpu().numpy()  # (B, T, J, 3)
        f, fps = self.gpt.config.frames_per_token, float(self.tokenizer.fps)
        terms = {"beat": beat_reward(joints, music_beats, f), "skating": skating_reward(joints, fps, f),
                 "orientation": orientation_reward(joints, f)}
        dev = next(iter(tokens.values())).device
        out = {k: torch.as_tensor(v, dtype=torch.float32, device=dev) for k, v in terms.items()}
        out["total"] = (self.rl.beat_weight * out["beat"] + self.rl.skating_weight * out["skating"]
                        + self.rl.orientation_weight * out["orientation"])
        return out

    def shared_step(self, batch: Mapping[str, Any], stage: StageName) -> torch.Tensor:
        music = batch["music"]  # (B, T + 2m, F)
        T = batch["joints"].shape[1]
        B, f = music.shape[0], self.gpt.config.frames_per_token
        N, margin = T // f, (music.shape[1] - T) // 2
        cond = {"music": self.gpt.music_tokens(music, num_tokens=N, margin=margin),
                "genre": torch.zeros(B, N, dtype=torch.long, device=music.device)}
        tokens = generate(self.gpt, cond, N, SamplingConfig(temperature=self.rl.temperature)).tokens  # the global RNG
        beat_channel = get_feature_set(self.hparams["feature_set"]).beat_channel
        music_beats = (music[:, margin:margin + N * f, beat_channel] > 0.5).cpu().numpy()
        rewards = self.rewards(tokens, music_beats)

        terms = teacher_forced(self.gpt, self.reference, self.critic, cond, tokens, self.rl.temperature)
        out = actor_critic_loss(terms, rewards["total"], self.rl)
        loss = out.pop("loss")
        sync = stage != "train"
        self.log(f"{stage}/reward", rewards["total"].mean(), prog_bar=True, batch_size=B, sync_dist=sync)
        self.log_dict({f"{stage}/reward_{k}": v.mean() for k, v in rewards.items() if k != "total"},
                      batch_size=B, sync_dist=sync)
        self.log_dict({f"{stage}/{k}": v for k, v in out.items()} | {f"{stage}/loss": loss.detach()},
                      batch_size=B, sync_dist=sync)
        return loss
