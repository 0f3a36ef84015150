"""Off-policy actor-critic fine-tuning of the interaction GPT, on training duets only.

Each training step takes a batch of windows from the *training* split (leader and music only: the
followers are the policy's own) and:

1. **rollout**: the policy follows each window's leader to its music through
   :func:`gpt.sampling.generate` (the function ``cli.py follow`` uses), sampling at ``temperature``;
   the leader's tokens come from the whole duet (cut with the leader encoder's reach, as in training);
2. **rewards** per token from the decoded pair (:mod:`duet.rewards`, :mod:`gpt.rewards`): the lower
   body against the body's travel (Duolando's term), foot skating, the partners' distance kept in a
   band, beat echo of the leader, and optionally the music's beats and the upper/lower orientation,
   each weighted in :class:`DuetRLConfig`;
3. **replay**: the rollouts (which duet and where, their tokens, rewards and the log-probabilities they
   were sampled with; no activations: the frozen encoders' conditions are rebuilt from the duet's music
   and leader tokens when a window is replayed, so a paper-size memory of 2048 windows is a few MB, not
   the 0.75 GB its conditions would be) go into a replay memory of ``replay_size`` windows, and the update trains on the
   new rollouts plus ``replay_batch`` windows drawn from the memory (Duolando replays its first epoch
   and five times its current rollouts with replacement, but with no critic and no importance weights);
4. **update**: :func:`gpt.rl.actor_critic_loss`: a critic on the frozen base (value head initialised to
   zero), GAE advantages, PPO's clipped importance ratio against the behaviour log-probabilities (so
   replayed rollouts of an older policy are weighted, not taken as on-policy), the KL anchor to the
   supervised policy and an optional entropy bonus.

The base (embeddings, both look-ahead encoders, the first ``frozen_layers`` blocks) stays frozen; the
head blocks and output heads train. The replay memory is saved in the checkpoint (every DDP rank's
own), so a resumed run continues with it. The checkpoint is an interaction GPT checkpoint (same keys as
:class:`duet.lightning.DuetGPTStage`'s), so ``cli.py follow`` reads it as it is.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import torch

from data.errors import is_non_negative, is_positive_int
from data.datamodules import music_window
from data.geometry import absolute_joints
from data.music import get_feature_set
from duet.lightning import tokenize_duets, window_conditions, window_duet_tokens
from duet.model import TRANSLATION, DuetGPT
from duet.pretrained import Follower, follow_hparams
from duet.rewards import distance_reward, echo_reward, travel_reward
from gpt.rewards import beat_reward, orientation_reward, skating_reward
from gpt.rl import Critic, RLConfig, actor_critic_loss, teacher_forced
from gpt.sampling import SamplingConfig, generate
from tokenizer.translation import follower_offset, follower_root
from training.config import coerce_config
from training.dist import gather_ranks, own_rank
from training.optim import OptimizerConfig
from training.stage import Stage, StageName

REPLAY_KEY = "pasdeux_replay"
"""Where the checkpoint keeps the replay memory."""


@dataclass
class DuetRLConfig(RLConfig):
    """:class:`gpt.rl.RLConfig` (sampling, discount, KL anchor, critic, and the weights of the music
    beat, foot skating and orientation terms) plus the duet's rewards and the replay memory."""

    beat_weight: float = 0.0
    """Weight of the music beat reward (the follower's beats on the music's); off: the echo term asks
    for the leader's beats instead."""
    orientation_weight: float = 0.0
    """Weight of the upper/lower orientation reward."""
    travel_weight: float = 1.0
    """Weight of the lower body against the travel (minus m/s of mismatch above ``travel_tolerance``)."""
    travel_tolerance: float = 0.3
    """Mismatch (m/s) between the legs' root velocity and the pelvis's travel that goes unpunished."""
    distance_weight: float = 1.0
    """Weight of the distance band (minus metres outside ``[near, far]``)."""
    near: float = 0.4
    """Closest plausible pelvis-to-pelvis distance on the floor, metres."""
    far: float = 2.0
    """Farthest plausible pelvis-to-pelvis distance on the floor, metres."""
    echo_weight: float = 0.5
    """Weight of the beat echo (+-1 per token: a leader beat answered by a follower beat)."""
    replay_size: int = 256
    """Rollout windows the replay memory keeps (the oldest go first)."""
    replay_batch: int = 16
    """Windows drawn from the memory (uniformly, with replacement) into every update."""
    clip: float = 0.2
    """PPO's clip of the importance ratio of replayed rollouts."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("travel_weight", "travel_tolerance", "distance_weight", "echo_weight", "clip"):
            if not is_non_negative(getattr(self, name)):
                raise ValueError(f"DuetRLConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not (is_non_negative(self.near) and self.far > self.near):
            raise ValueError(f"DuetRLConfig: need 0 <= near < far, got near {self.near!r}, far {self.far!r}")
        if not is_positive_int(self.replay_size):
            raise ValueError(f"DuetRLConfig.replay_size must be a positive integer, got {self.replay_size!r}")
        if not (isinstance(self.replay_batch, int) and self.replay_batch >= 0):
            raise ValueError(f"DuetRLConfig.replay_batch must be an integer >= 0, got {self.replay_batch!r}")


class ReplayMemory:
    """The last ``capacity`` rollout windows, each a dict of tensors (CPU), sampled uniformly."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: list[dict[str, Any]] = []
        self.next = 0  # the slot the next push overwrites once full

    def __len__(self) -> int:
        return len(self.items)

    def push(self, batch: Mapping[str, Any]) -> None:
        """Store every row of a batch (``{key: (B, ...)}`` tensors, dicts of them, or lists)."""
        B = int(batch["rewards"].shape[0])
        row = lambda v, b: v[b].detach().cpu() if torch.is_tensor(v) else v[b]  # noqa: E731
        for b in range(B):
            item = {k: ({s: row(t, b) for s, t in v.items()} if isinstance(v, Mapping) else row(v, b))
                    for k, v in batch.items()}
            if len(self.items) < self.capacity:
                self.items.append(item)
            else:
                self.items[self.next] = item
                self.next = (self.next + 1) % self.capacity

    def sample(self, k: int, generator: torch.Generator | None = None) -> list[dict[str, Any]]:
        if not self.items or k == 0:
            return []
        idx = torch.randint(0, len(self.items), (k,), generator=generator)
        return [self.items[int(i)] for i in idx]

    def state(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "items": self.items, "next": self.next}

    def load(self, state: Mapping[str, Any]) -> None:
        self.capacity, self.items, self.next = int(state["capacity"]), list(state["items"]), int(state["next"])


def stack_items(items: list[Mapping[str, Any]], device: torch.device) -> dict[str, Any]:
    """Replayed windows -> one batch ``{key: (k, ...)}`` (tensors stacked, dicts per entry, others listed)."""
    out: dict[str, Any] = {}
    for key, v in items[0].items():
        if isinstance(v, Mapping):
            out[key] = {s: torch.stack([it[key][s] for it in items]).to(device) for s in v}
        elif torch.is_tensor(v):
            out[key] = torch.stack([it[key] for it in items]).to(device)
        else:
            out[key] = [it[key] for it in items]
    return out


def concat(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    join = lambda x, y: torch.cat([x, y]) if torch.is_tensor(x) else list(x) + list(y)  # noqa: E731
    return {k: ({s: join(v[s], b[k][s]) for s in v} if isinstance(v, Mapping) else join(v, b[k])) for k, v in a.items()}


def follower_rewards(tokenizer, translation, rl: DuetRLConfig, tokens: Mapping[str, torch.Tensor], leader: torch.Tensor,
                     music_beats: np.ndarray) -> dict[str, torch.Tensor]:
    """The follower's tokens ``{stream: (B, N)}`` and the absolute leader ``(B, T, J, 3)`` -> per-token
    rewards ``(B, N)`` (each term and the ``total`` weighted by ``rl``); ``music_beats`` ``(B, T)`` bool
    (read only when ``rl.beat_weight`` is set). ``tokenizer`` / ``translation``: the duet and
    translation tokenizers (:mod:`tokenizer.pretrained`)."""
    f, fps = tokenizer.stride, float(tokenizer.fps)
    T = leader.shape[1]
    with torch.no_grad():
        pose = tokenizer.model.decode({p: tokens[p] for p in tokenizer.parts}, num_frames=T)
        offset = translation.model.decode(tokens[TRANSLATION], num_frames=T)  # (B, T, 3)
        _, heading = follower_offset(leader, leader[..., 0, :], translation.frame)
        root = follower_root(leader[..., 0, :], offset, translation.frame, heading)  # (B, T, 3)
    joints = (pose["joints_rel"] + root[..., None, :]).double().cpu().numpy()  # (B, T, J, 3)
    lj, root_np = leader.double().cpu().numpy(), root.double().cpu().numpy()
    terms = {"travel": travel_reward(pose["root_vel"].double().cpu().numpy(), root_np, fps, f, rl.travel_tolerance),
             "skating": skating_reward(joints, fps, f),
             "distance": distance_reward(lj[..., 0, :], root_np, f, rl.near, rl.far),
             "echo": echo_reward(joints, lj, f)}
    if rl.beat_weight:
        terms["beat"] = beat_reward(joints, music_beats, f)
    if rl.orientation_weight:
        terms["orientation"] = orientation_reward(joints, f, tokenizer.skeleton)
    out = {k: torch.as_tensor(v, dtype=torch.float32, device=leader.device) for k, v in terms.items()}
    weights = {"travel": rl.travel_weight, "skating": rl.skating_weight, "distance": rl.distance_weight,
               "echo": rl.echo_weight, "beat": rl.beat_weight, "orientation": rl.orientation_weight}
    out["total"] = sum(weights[k] * v for k, v in out.items())
    return out


class DuetRLStage(Stage):
    """Off-policy actor-critic fine-tuning of a trained interaction GPT (see the module docstring).

    Args:
        gpt: the interaction GPT checkpoint to start from (``DuetGPTStage``, or an earlier RL checkpoint).
        rl: the actor-critic, reward and replay settings.
        optimizer: optimiser and schedule (Duolando: Adam 3e-5).
    """

    def __init__(self, gpt: str, rl: DuetRLConfig | dict | None = None, optimizer: OptimizerConfig | dict | None = None
                 ) -> None:
        super().__init__(optimizer)
        self.init_path = str(gpt)
        self.rl = coerce_config(DuetRLConfig, rl)
        self.gpt: DuetGPT | None = None  # built in configure_model (read from the checkpoint then)
        self.reference: DuetGPT | None = None
        self.critic: Critic | None = None
        self.tokenizer = self.translation = None
        self.memory = ReplayMemory(self.rl.replay_size)
        self._tables: dict[str, dict] = {}
        self._songs: dict[str, np.ndarray] = {}
        self._music_margin = 0
        self.save_hyperparameters({"gpt_checkpoint": self.init_path, "rl": asdict(self.rl),
                                   "optimizer": asdict(self.optim_config)})

    # -- building ------------------------------------------------------------------------------------
    def configure_model(self) -> None:
        if self.gpt is not None:
            return
        follower = Follower.from_checkpoint(self.init_path)
        self.gpt, self.tokenizer, self.translation = follower.gpt, follower.tokenizer, follower.translation
        self.reference = copy.deepcopy(self.gpt)
        for p in [*self.reference.parameters(), *self.tokenizer.parameters(), *self.translation.parameters()]:
            p.requires_grad_(False)
        g = self.gpt
        base = [g.music_in, g.genre_embedding, g.leader_in, *g.token_embedding.values(),
                *g.transformer.blocks[:g.config.frozen_layers]]
        base += [e for e in (g.music_encoder, g.leader_encoder) if e is not None]
        for module in base:
            for p in module.parameters():
                p.requires_grad_(False)
        self.critic = Critic(self.gpt, self.rl.critic_layers)
        self.save_hyperparameters({**dict(self.hparams), **follow_hparams(g.config, self.tokenizer, self.translation,
                                                                          follower.feature_set)})
        dm = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if dm is None or not hasattr(dm, "sequences"):
            raise ValueError("the duet RL stage needs a pasdeux DuetDataModule (the leaders' whole-duet tokens)")
        need = g.config.music_margin
        if dm.window.music_margin < need:
            raise ValueError(f"the GPT's music encoder needs data.music_margin >= {need} frames (it is "
                             f"{dm.window.music_margin}): set data.init_args.music_margin: {need}")
        for split in dict.fromkeys(dm.splits.values()):
            sequences = dm.sequences(split)
            self._tables.update(tokenize_duets(self.tokenizer, self.translation, sequences, skip=self._tables))
            self._songs.update({seq.name: seq.music for seq in sequences})  # replayed windows' music
        self._music_margin = dm.window.music_margin

    def train(self, mode: bool = True):
        super().train(mode)
        for m in (self.gpt, self.reference, self.tokenizer, self.translation):  # no dropout in rollouts or updates
            if m is not None:
                m.eval()
        return self

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[REPLAY_KEY] = gather_ranks(self.memory.state())  # under DDP each rank replays its own

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        if REPLAY_KEY in checkpoint:
            self.memory.load(own_rank(checkpoint[REPLAY_KEY]))

    # -- rewards -------------------------------------------------------------------------------------
    def rewards(self, tokens: Mapping[str, torch.Tensor], leader: torch.Tensor, music_beats: np.ndarray
                ) -> dict[str, torch.Tensor]:
        """:func:`follower_rewards` with this stage's tokenizers and weights."""
        return follower_rewards(self.tokenizer, self.translation, self.rl, tokens, leader, music_beats)

    # -- the step ------------------------------------------------------------------------------------
    def conditions(self, names, first_tokens, music: torch.Tensor, num_tokens: int) -> dict[str, torch.Tensor]:
        """The frozen encoders' music and leader streams ``(B, N, D)`` of windows, from their music
        ``(B, T + 2m, F)`` and their duets' whole leader tokens."""
        _, lead, reach = window_duet_tokens(self.gpt, self._tables, names, first_tokens, num_tokens, music.device)
        with torch.no_grad():
            return window_conditions(self.gpt, lead, reach, music, num_tokens)

    def rollout(self, batch: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict]:
        """The policy's followers for a batch of windows: what the memory keeps (``name``, ``first``
        token, ``tokens``, ``rewards``, ``behaviour_logp``: the conditions are recomputed from the data
        when replayed, so the memory holds no activations), each reward term, and the conditions."""
        music = batch["music"]  # (B, T + 2m, F)
        T = batch["leader_joints"].shape[1]
        f = self.gpt.config.frames_per_token
        N = T // f
        first = [int(s) // f for s in (batch["start"].tolist() if torch.is_tensor(batch["start"]) else batch["start"])]
        cond = self.conditions(batch["name"], first, music, N)
        gen = generate(self.gpt, cond, N, SamplingConfig(temperature=self.rl.temperature))  # the global RNG
        leader = absolute_joints(batch["leader_joints"], batch["leader_root_vel"], batch["leader_root_start"])
        margin = (music.shape[1] - T) // 2
        beat_channel = get_feature_set(self.hparams["feature_set"]).beat_channel
        music_beats = (music[:, margin:margin + T, beat_channel] > 0.5).cpu().numpy()
        rewards = self.rewards(gen.tokens, leader, music_beats)
        rollout = {"name": list(batch["name"]), "first": torch.tensor(first, device=music.device), "tokens": gen.tokens,
                   "rewards": rewards["total"], "behaviour_logp": sum(gen.logp.values())}
        return rollout, rewards, cond

    def replayed_conditions(self, items: Mapping[str, Any], num_tokens: int, device) -> dict[str, torch.Tensor]:
        """The conditions of replayed windows, rebuilt from their duets' music and leader tokens (the
        encoders are frozen, so they are the ones the rollout saw)."""
        f, m = self.gpt.config.frames_per_token, self._music_margin
        first = items["first"].tolist()
        music = torch.stack([music_window(self._songs[n], k * f, (k + num_tokens) * f, m)
                             for n, k in zip(items["name"], first)]).to(device)
        return self.conditions(items["name"], first, music, num_tokens)

    def shared_step(self, batch: Mapping[str, Any], stage: StageName) -> torch.Tensor:
        fresh, rewards, cond = self.rollout(batch)
        B, N = fresh["rewards"].shape
        train = stage == "train"
        data = fresh
        if train:
            replayed = self.memory.sample(self.rl.replay_batch)
            self.memory.push(fresh)
            if replayed:
                old = stack_items(replayed, fresh["rewards"].device)
                data = concat(fresh, old)
                past = self.replayed_conditions(old, N, fresh["rewards"].device)
                cond = {k: torch.cat([cond[k], past[k]]) for k in cond}
        terms = teacher_forced(self.gpt, self.reference, self.critic, cond, data["tokens"], self.rl.temperature)
        out = actor_critic_loss(terms, data["rewards"], self.rl, behaviour_logp=data["behaviour_logp"], clip=self.rl.clip)
        loss = out.pop("loss")
        sync = not train
        self.log(f"{stage}/reward", rewards["total"].mean(), prog_bar=True, batch_size=B, sync_dist=sync)
        self.log_dict({f"{stage}/reward_{k}": v.mean() for k, v in rewards.items() if k != "total"},
                      batch_size=B, sync_dist=sync)
        self.log_dict({f"{stage}/{k}": v for k, v in out.items()} | {f"{stage}/loss": loss.detach(),
                                                                      f"{stage}/replayed": float(len(data["rewards"]) - B)},
                      batch_size=B, sync_dist=sync)
        return loss


__all__ = ["DuetRLConfig", "DuetRLStage", "ReplayMemory", "REPLAY_KEY", "follower_rewards"]
