"""A trained interaction GPT with its two tokenizers, loaded from one checkpoint without Lightning, for
``cli.py follow``.

The checkpoint :class:`duet.lightning.DuetGPTStage` writes holds the GPT's config and weights, the duet
tokenizer's and the translation tokenizer's configs and weights, the music feature set and the frame
rate; so a follower needs that file, a leader and a song::

    follower = Follower.from_checkpoint("runs/duet_gpt/checkpoints/last.ckpt")
    music = follower.music_features("song.wav").features           # (T, F) at the motion fps
    [dance] = follower.follow([leader], [music], SamplingConfig(top_p=0.9))
    dance.motion                                                     # the follower, placed beside the leader
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from data.errors import InputError
from data.motion import Motion
from duet.model import TRANSLATION, DuetGPT, DuetGPTConfig
from gpt.pretrained import PretrainedGPT
from gpt.sampling import SamplingConfig, generate
from tokenizer.pretrained import Tokenizer, TranslationTokenizer
from tokenizer.translation import follower_offset, follower_root
from training.checkpoint import read_checkpoint, sub_state
from training.config import coerce_config

STAGE = "duet.lightning.DuetGPTStage"


def follow_hparams(gpt: DuetGPTConfig, tokenizer: Tokenizer | None, translation: TranslationTokenizer | None,
                   feature_set: str | None) -> dict:
    """The hyper-parameters :meth:`Follower.from_checkpoint` reads, as every stage that writes a
    follower checkpoint saves them."""
    return {"gpt": asdict(gpt), "feature_set": feature_set,
            "tokenizer_config": None if tokenizer is None else asdict(tokenizer.config),
            "translation_config": None if translation is None else asdict(translation.config),
            "fps": None if tokenizer is None else float(tokenizer.fps), "task": "duet"}


def follower_sampling(streams, sampling: SamplingConfig, translation_temperature: float | None = None,
                      translation_top_p: float | None = None) -> SamplingConfig | dict[str, SamplingConfig]:
    """``sampling`` for every stream, or per stream with the relative translation's own temperature
    and / or top-p (the other settings shared) when either is given."""
    if translation_temperature is None and translation_top_p is None:
        return sampling
    own = SamplingConfig(sampling.temperature if translation_temperature is None else translation_temperature,
                         sampling.top_k, sampling.top_p if translation_top_p is None else translation_top_p)
    return {**dict.fromkeys(streams, sampling), TRANSLATION: own}


@dataclass
class FollowerDance:
    """One generated follower: its tokens and the decoded, placed motion."""

    tokens: dict[str, torch.Tensor]
    """``{stream: (N,)}`` int64: the follower's parts and the relative translation."""
    motion: Motion


class Follower(PretrainedGPT):
    """Leader + music -> the follower, batched over duets.

    Args:
        gpt: the interaction GPT.
        tokenizer: the duet tokenizer (leader and follower parts).
        translation: the relative-translation tokenizer.
        feature_set: the music feature set the GPT was trained on.
    """

    gpt: DuetGPT

    def __init__(self, gpt: DuetGPT, tokenizer: Tokenizer, translation: TranslationTokenizer, feature_set: str) -> None:
        super().__init__(gpt, tokenizer, feature_set)
        self.translation = translation.eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> "Follower":
        ckpt = read_checkpoint(path)
        hp = ckpt.get("hyper_parameters", {})
        if not isinstance(hp, Mapping) or hp.get("task") != "duet" or not isinstance(hp.get("gpt"), Mapping):
            raise InputError(path, "not an interaction GPT checkpoint (no duet 'gpt' hyper-parameters)",
                             f"pass a checkpoint written by {STAGE} (`cli.py fit --config configs/.../duet_gpt.yaml`)")
        state = ckpt["state_dict"]
        gpt = DuetGPT(coerce_config(DuetGPTConfig, hp["gpt"]))
        gpt.load_state_dict(sub_state(state, "gpt."), strict=True)
        tokenizer = Tokenizer(hp["tokenizer_config"])
        tokenizer.model.load_state_dict(sub_state(state, "tokenizer.model."), strict=True)
        translation = TranslationTokenizer(hp["translation_config"])
        translation.model.load_state_dict(sub_state(state, "translation.model."), strict=True)
        return cls(gpt, tokenizer, translation, hp["feature_set"])

    @property
    def config(self) -> DuetGPTConfig:
        return self.gpt.config

    # -- generation ----------------------------------------------------------------------------------
    def leader_tokens(self, leader: Motion) -> dict[str, torch.Tensor]:
        """The leader's part tokens ``{part: (N,)}``, ``N = ceil(T / stride)``."""
        return self.tokenizer.encode(leader)

    @torch.no_grad()
    def conditions(self, leaders: Sequence[Mapping[str, torch.Tensor]], music: Sequence[torch.Tensor | np.ndarray]
                   ) -> tuple[dict[str, torch.Tensor], list[int]]:
        """The condition streams ``{"music", "leader"}`` ``(B, N, D)`` of whole duets (one batch, padded
        to the longest: no music and "no leader" past a duet's end), and each duet's length in tokens.

        Args:
            leaders: per duet the leader's ``{part: (N_i,)}`` tokens.
            music: per duet ``(T_i, F)`` features at the motion fps, ``T_i >= N_i * stride`` frames
                (what is past the leader's end is not used).
        """
        c = self.config
        lengths = [int(next(iter(t.values())).shape[-1]) for t in leaders]
        N, f = max(lengths), self.stride
        batch_music = torch.zeros(len(leaders), N * f, c.music_dim)
        batch_leader = {p: torch.full((len(leaders), N), self.gpt.pad_token, dtype=torch.long) for p in c.parts}
        for i, (tokens, m, n) in enumerate(zip(leaders, music, lengths)):
            m = torch.as_tensor(np.asarray(m), dtype=torch.float32)
            if m.ndim != 2 or m.shape[1] != c.music_dim:
                raise ValueError(f"music features must be (T, {c.music_dim}), got {tuple(m.shape)}")
            k = min(m.shape[0], N * f)
            batch_music[i, :k] = m[:k]
            for p in c.parts:
                batch_leader[p][i, :n] = torch.as_tensor(tokens[p]).long()
        dev = self.device
        cond = {"music": self.gpt.music_tokens(batch_music.to(dev), num_tokens=N),  # (B, N, D)
                "leader": self.gpt.leader_tokens({p: t.to(dev) for p, t in batch_leader.items()})}  # (B, N, D)
        return cond, lengths

    @torch.no_grad()
    def generate_tokens(self, leaders: Sequence[Mapping[str, torch.Tensor]], music: Sequence[torch.Tensor | np.ndarray],
                        sampling: SamplingConfig | Mapping[str, SamplingConfig] = SamplingConfig(), *,
                        generator: torch.Generator | None = None,
                        use_cache: bool = True, recompute_steps: int | None = None, progress=None
                        ) -> list[dict[str, torch.Tensor]]:
        """The follower's tokens for each duet (one batch; any lengths, padded to the longest).

        Args:
            leaders, music: as for :meth:`conditions`.
            sampling, generator, use_cache, recompute_steps, progress: see :func:`gpt.sampling.generate`
                (``sampling`` may be per stream).
        Returns:
            per duet ``{stream: (N_i,)}``: every step of the leader, none missing.
        """
        cond, lengths = self.conditions(leaders, music)
        N = max(lengths)
        out = generate(self.gpt, cond, N, sampling, generator=generator, use_cache=use_cache,
                       recompute_steps=recompute_steps, progress=progress)
        return [{s: out.tokens[s][i, :n].cpu() for s in self.gpt.streams} for i, n in enumerate(lengths)]

    @torch.no_grad()
    def place(self, tokens: Mapping[str, torch.Tensor], leader: Motion, name: str = "", music: str = "") -> Motion:
        """The follower's tokens -> its :class:`Motion` over the leader's frames: the pose from the part
        tokens, the pelvis at the leader's plus the decoded offset (in the leader's heading frame or the
        world's, as the translation tokenizer was trained)."""
        T = leader.num_frames
        lj = torch.as_tensor(leader.joints, dtype=torch.float32)  # (T, J, 3)
        _, heading = follower_offset(lj, lj[:, 0], self.translation.frame)
        offset = self.translation.decode(tokens[TRANSLATION].to(self.device), num_frames=T).cpu()  # (T, 3)
        pelvis = follower_root(lj[:, 0], offset, self.translation.frame, heading).double().numpy()  # (T, 3)
        pose = self.tokenizer.decode_motion({p: tokens[p].to(self.device) for p in self.config.parts},
                                            num_frames=T, name=name, music=music)
        shift = pelvis - pose.joints[:, 0]  # (T, 3): the decoded pose's own root path is replaced
        root = None if pose.root is None else pose.root + shift
        return Motion(skeleton=pose.skeleton, fps=pose.fps, joints=pose.joints + shift[:, None], rotations=pose.rotations,
                      root=root, name=name, music=music)

    def follow(self, leaders: Sequence[Motion], music: Sequence[torch.Tensor | np.ndarray],
               sampling: SamplingConfig | Mapping[str, SamplingConfig] = SamplingConfig(), *,
               generator: torch.Generator | None = None,
               names: Sequence[str] | None = None, progress=None) -> list[FollowerDance]:
        """A follower for each (leader, song), decoded and placed; each leader at the model's skeleton
        and fps (``data.motion.to_skeleton`` / ``resample`` convert others)."""
        for leader in leaders:
            if leader.skeleton != self.tokenizer.skeleton or abs(leader.fps - self.fps) > 1e-6:
                raise InputError(leader.name or None, f"the leader is {leader.skeleton} at {leader.fps:g} fps, the model "
                                                      f"follows {self.tokenizer.skeleton} at {self.fps:g} fps",
                                 "convert it first (data.motion.to_skeleton, data.motion.resample)")
        tokens = self.generate_tokens([self.leader_tokens(m) for m in leaders], music, sampling, generator=generator,
                                      progress=progress)
        names = list(names or [""] * len(leaders))
        return [FollowerDance(t, self.place(t, m, name=n, music=m.music)) for t, m, n in zip(tokens, leaders, names)]


__all__ = ["Follower", "FollowerDance", "follow_hparams", "follower_sampling", "STAGE"]
