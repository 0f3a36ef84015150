"""A trained solo GPT with its tokenizer, loaded from one checkpoint without Lightning, for ``dance``.

The checkpoint :class:`gpt.lightning.SoloGPTStage` writes holds the GPT's config and weights, the
tokenizer's config and weights, the music feature set and frame rate, and where a dance starts; so a
dance needs that file and a song::

    dancer = SoloDancer.from_checkpoint("runs/solo_gpt/checkpoints/last.ckpt")
    music = dancer.music_features("song.wav")                  # (T, F) at the motion fps
    [motion] = dancer.dance([music], SamplingConfig(top_p=0.9), generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from data.errors import InputError
from data.motion import Motion
from gpt.sampling import SamplingConfig, generate
from gpt.solo import SoloGPT, SoloGPTConfig
from tokenizer.pretrained import Tokenizer
from training.checkpoint import read_checkpoint, sub_state
from training.config import coerce_config

STAGE = "gpt.lightning.SoloGPTStage"
DEFAULT_ROOT_START = (0.0, 0.9, 0.0)
"""Where a dance's pelvis starts when the checkpoint does not say (metres)."""


def dance_hparams(gpt: SoloGPTConfig, tokenizer: Tokenizer | None, feature_set: str | None,
                  root_start: Sequence[float] | None) -> dict:
    """The hyper-parameters :meth:`SoloDancer.from_checkpoint` reads, as every stage that writes a
    dance checkpoint (the GPT stage, the RL stage) saves them."""
    return {"gpt": asdict(gpt), "feature_set": feature_set,
            "tokenizer_config": None if tokenizer is None else asdict(tokenizer.config),
            "fps": None if tokenizer is None else float(tokenizer.fps),
            "root_start": None if root_start is None else [float(v) for v in root_start]}


@dataclass
class SoloDance:
    """One generated dance: its tokens and the decoded motion."""

    tokens: dict[str, torch.Tensor]
    """``{part: (N,)}`` int64, the prompt's tokens first."""
    motion: Motion


class PretrainedGPT(torch.nn.Module):
    """What every trained generator needs at inference, whatever it conditions on: a GPT on
    :class:`gpt.solo.SoloGPT`'s layout, its tokenizer and music feature set; its facts, device, weight
    precision and the song's features. :class:`SoloDancer` and :class:`duet.pretrained.Follower` add
    their own generation.

    Args:
        gpt: the GPT (config and weights).
        tokenizer: its tokenizer.
        feature_set: the music feature set the GPT was trained on.
    """

    def __init__(self, gpt: SoloGPT, tokenizer: Tokenizer, feature_set: str) -> None:
        super().__init__()
        self.gpt, self.tokenizer, self.feature_set = gpt.eval(), tokenizer.eval(), feature_set

    @property
    def config(self) -> SoloGPTConfig:
        return self.gpt.config

    @property
    def fps(self) -> float:
        return self.tokenizer.fps

    @property
    def stride(self) -> int:
        return self.config.frames_per_token

    @property
    def device(self) -> torch.device:
        return self.gpt.music_mean.device

    def set_precision(self, precision: str):
        """``"32"`` or ``"bf16"`` GPT weights (and KV cache); the music statistics and the tokenizer
        stay float32. Returns ``self``."""
        if precision not in ("32", "bf16"):
            raise ValueError(f"precision must be '32' or 'bf16', got {precision!r}")
        stats = self.gpt.music_mean.float(), self.gpt.music_std.float()
        self.gpt.to(torch.bfloat16 if precision == "bf16" else torch.float32)
        self.gpt.music_mean.data, self.gpt.music_std.data = stats
        return self

    def music_features(self, path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
        """The song's :class:`data.music.MusicFeatures` in the GPT's feature set at the motion fps."""
        from data.music import compute_features

        return compute_features(path, fps=self.fps, feature_set=self.feature_set, cache_dir=cache_dir)


class SoloDancer(PretrainedGPT):
    """Music -> dance, batched over songs and samples.

    Args:
        gpt: the GPT (config and weights).
        tokenizer: its tokenizer.
        feature_set: the music feature set the GPT was trained on.
        root_start: where the pelvis of a dance starts (metres), default the training dances' mean.
    """

    def __init__(self, gpt: SoloGPT, tokenizer: Tokenizer, feature_set: str,
                 root_start: Sequence[float] = DEFAULT_ROOT_START) -> None:
        super().__init__(gpt, tokenizer, feature_set)
        self.root_start = torch.tensor([float(v) for v in root_start])

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> "SoloDancer":
        ckpt = read_checkpoint(path)
        hp = ckpt.get("hyper_parameters", {})
        if not isinstance(hp, Mapping) or not isinstance(hp.get("gpt"), Mapping) or "tokenizer_config" not in hp:
            raise InputError(path, "not a solo GPT checkpoint (no 'gpt' and 'tokenizer_config' hyper-parameters)",
                             f"pass a checkpoint written by {STAGE} (`cli.py fit --config configs/.../solo_gpt.yaml`)")
        if not hp.get("feature_set"):
            raise InputError(path, "the checkpoint does not say which music features it was trained on",
                             "retrain it with this version of pasdeux")
        state = ckpt["state_dict"]
        gpt = SoloGPT(coerce_config(SoloGPTConfig, hp["gpt"]))
        gpt.load_state_dict(sub_state(state, "gpt."), strict=True)
        tokenizer = Tokenizer(hp["tokenizer_config"])
        tokenizer.model.load_state_dict(sub_state(state, "tokenizer.model."), strict=True)
        return cls(gpt, tokenizer, hp["feature_set"], hp.get("root_start") or DEFAULT_ROOT_START)

    # -- generation ----------------------------------------------------------------------------------
    @torch.no_grad()
    def generate_tokens(self, music: Sequence[torch.Tensor | np.ndarray], sampling: SamplingConfig = SamplingConfig(),
                        *, genres: Sequence[str | None] | None = None, prompt: Mapping[str, torch.Tensor] | None = None,
                        generator: torch.Generator | None = None, use_cache: bool = True,
                        recompute_steps: int | None = None, progress=None) -> list[dict[str, torch.Tensor]]:
        """Tokens for each song (one batch; songs of any lengths, padded to the longest).

        Args:
            music: per song ``(T_i, F)`` features at the motion fps.
            sampling: temperature / top-k / top-p.
            genres: per song a genre label or None ("none").
            prompt: ``{part: (P,)}`` tokens every dance starts with (a seed motion), or None.
            generator, use_cache, recompute_steps, progress: see :func:`gpt.sampling.generate`.
        Returns:
            per song ``{part: (N_i,)}``, ``N_i = ceil(T_i / stride)`` (the prompt's tokens first).
        """
        c = self.config
        frames = [torch.as_tensor(np.asarray(m), dtype=torch.float32) for m in music]
        for m in frames:
            if m.ndim != 2 or m.shape[1] != c.music_dim:
                raise ValueError(f"music features must be (T, {c.music_dim}), got {tuple(m.shape)}")
        lengths = [-(-m.shape[0] // self.stride) for m in frames]
        N = max(lengths)
        batch = torch.zeros(len(frames), N * self.stride, c.music_dim)
        for i, m in enumerate(frames):
            batch[i, :m.shape[0]] = m
        music_tokens = self.gpt.music_tokens(batch.to(self.device), num_tokens=N)  # (B, N, C)
        genre_ids = [c.genre_index(g) for g in (genres or [None] * len(frames))]
        genre = torch.tensor(genre_ids, device=self.device)[:, None].expand(len(frames), N)
        P = 0 if prompt is None else next(iter(prompt.values())).shape[-1]
        if P > N:
            raise ValueError(f"the seed motion is {P} tokens long, the song only {N}")
        batched_prompt = None if prompt is None else {
            p: torch.as_tensor(t, device=self.device).reshape(1, -1).expand(len(frames), P) for p, t in prompt.items()}
        out = generate(self.gpt, {"music": music_tokens, "genre": genre}, N - P, sampling, prompt=batched_prompt,
                       generator=generator, use_cache=use_cache, recompute_steps=recompute_steps, progress=progress)
        result = []
        for i, n in enumerate(lengths):
            tokens = {p: out.tokens[p][i] for p in c.parts}
            if batched_prompt is not None:
                tokens = {p: torch.cat([batched_prompt[p][i], t]) for p, t in tokens.items()}
            result.append({p: t[:n].cpu() for p, t in tokens.items()})
        return result

    @torch.no_grad()
    def decode(self, tokens: Mapping[str, torch.Tensor], num_frames: int, root_start: torch.Tensor | None = None,
               name: str = "", music: str = "") -> Motion:
        """Tokens ``{part: (N,)}`` -> a :class:`Motion` of ``num_frames`` frames."""
        start = self.root_start if root_start is None else torch.as_tensor(root_start, dtype=torch.float32)
        return self.tokenizer.decode_motion({p: t.to(self.device) for p, t in tokens.items()},
                                            root_start=start.to(self.device), num_frames=num_frames,
                                            name=name, music=music)

    def prompt_from(self, seed: Motion) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """A seed motion's tokens (whole tokens only) and its first pelvis position."""
        n = (seed.num_frames // self.stride) * self.stride
        if n == 0:
            raise InputError(seed.name or None, f"the seed motion has {seed.num_frames} frames, fewer than one "
                                                f"token ({self.stride})", "give a longer seed motion")
        cut = Motion(skeleton=seed.skeleton, fps=seed.fps, joints=seed.joints[:n], name=seed.name)
        return self.tokenizer.encode(cut), torch.as_tensor(seed.joints[0, 0], dtype=torch.float32)

    def dance(self, music: Sequence[torch.Tensor | np.ndarray], sampling: SamplingConfig = SamplingConfig(), *,
              genres: Sequence[str | None] | None = None, seed_motion: Motion | None = None,
              generator: torch.Generator | None = None, names: Sequence[str] | None = None,
              progress=None) -> list[SoloDance]:
        """Dances to each song (same length as the song), decoded."""
        prompt, start = (None, None) if seed_motion is None else self.prompt_from(seed_motion)
        tokens = self.generate_tokens(music, sampling, genres=genres, prompt=prompt, generator=generator,
                                      progress=progress)
        names = list(names or [""] * len(music))
        return [SoloDance(t, self.decode(t, int(np.asarray(m).shape[0]), start, name=n))
                for t, m, n in zip(tokens, music, names)]
