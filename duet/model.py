"""The interaction GPT: the follower of a duet, danced to the music and to the leader, on
:mod:`gpt.transformer` and :class:`gpt.solo.SoloGPT`'s layout.

Every step ``i`` (4 frames at 30 fps) holds ``2 + P + 1`` tokens, step-major: ``[music_i, leader_i,
follower part_1 .. part_P of step i - 1, relative translation of step i - 1]``. Each follower stream's
output at step ``i`` predicts its token ``i`` from everything the window holds (the tiled mask: all
streams of steps ``<= i``), so the follower sees the leader and the music of the step it is about to
dance. Both of those are known before the follower starts, so they are encoded *once per sequence*:

* the music token as in the solo GPT (a linear map of the token's frames and ``music_context`` tokens
  either side, then optionally a look-ahead transformer, ``music_encoder``);
* the leader token: the sum of the leader's part tokens' embeddings (the follower's tables, as
  Duolando shares them) through a linear map, then optionally a look-ahead transformer
  (``leader_encoder``: ``window - 1`` steps back and ``ahead`` steps ahead per layer, rotary positions;
  Duolando's look-ahead transformers have a ±29-token band and no positions at all).

The follower is then decoded with the KV cache of :mod:`gpt.transformer`: one forward over one step
per token, for the whole song (Duolando stops 29 tokens, 3.9 s, before the end and recomputes five
look-ahead transformers and twelve layers at every step). Learned start tokens stand for the step
before the first, so no ground-truth follower seeds it.

The relative translation stream codes the follower's pelvis minus the leader's (in the leader's
heading frame or the world's, as the translation tokenizer was trained); the follower's root is the
leader's plus the decoded offset (:func:`tokenizer.translation.follower_root`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch.nn import functional as F

from data.errors import is_positive_int
from gpt.solo import SoloGPT, SoloGPTConfig
from gpt.transformer import Linear, Transformer, TransformerConfig, _init_weights

LEADER_ENCODER_CHUNK = 256
"""Leader tokens the leader encoder runs at a time over a long song (its reach as context either side)."""

TRANSLATION = "transl"
"""The name of the relative-translation stream."""


@dataclass
class DuetGPTConfig(SoloGPTConfig):
    """The interaction GPT: :class:`gpt.solo.SoloGPTConfig`'s fields (``parts``, ``codebook_size`` and
    ``frames_per_token`` *from the duet tokenizer*; music settings as for solo; ``genres`` usually
    empty) plus the leader's encoder and the translation stream's codebook."""

    parts: tuple[str, ...] = ("upper", "lower", "lhand", "rhand")
    """*From the duet tokenizer*: the follower's part streams, in order (the leader's are the same)."""
    frames_per_token: int = 4
    """*From the duet tokenizer*: its temporal stride, in music frames (DD100: 4 at 30 fps)."""
    genre_dropout: float = 0.0
    """Training: the fraction of windows whose genre is replaced by "none" (DD100 has no genre labels)."""
    translation_codebook_size: int = 512
    """*From the translation tokenizer*: codes of the relative-translation stream."""
    leader_encoder: TransformerConfig | None = None
    """None: the leader token is the linear map of its part embeddings. A config: that token then
    passes this look-ahead transformer over the whole leader (its ``n_embd`` must be the GPT's)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.leader_encoder, Mapping):
            self.leader_encoder = TransformerConfig(**self.leader_encoder)
        if self.leader_encoder is not None and self.leader_encoder.n_embd != self.transformer.n_embd:
            raise ValueError(f"DuetGPTConfig.leader_encoder.n_embd ({self.leader_encoder.n_embd}) must be the "
                             f"transformer's n_embd ({self.transformer.n_embd})")
        if not is_positive_int(self.translation_codebook_size):
            raise ValueError("DuetGPTConfig.translation_codebook_size must be a positive integer, "
                             f"got {self.translation_codebook_size!r}")
        if TRANSLATION in self.parts:
            raise ValueError(f"DuetGPTConfig.parts may not contain {TRANSLATION!r} (the translation stream's name)")

    @property
    def vocab(self) -> dict[str, int]:
        return {**{p: self.codebook_size for p in self.parts}, TRANSLATION: self.translation_codebook_size}

    @property
    def num_conditions(self) -> int:
        return 2  # music, leader

    @property
    def leader_reach(self) -> tuple[int, int]:
        """Leader tokens before and after its own that the leader encoder mixes into a step's leader
        token, ``(back, ahead)``; ``(0, 0)`` without an encoder."""
        e = self.leader_encoder
        return (0, 0) if e is None else (e.n_layer * (e.window - 1), e.n_layer * e.ahead)


class DuetGPT(SoloGPT):
    """Music + leader -> the follower's part and translation token logits, with a KV cache for
    generation (a :class:`gpt.sampling.StepModel`).

    Inputs per step: ``music`` ``(B, n, D)`` (:meth:`music_tokens`), ``leader`` ``(B, n, D)``
    (:meth:`leader_tokens`), each follower stream's token of the step before ``(B, n)`` long (its
    start token: its number of codes). Output: ``{stream: (B, n, K_stream)}`` logits.
    """

    config: DuetGPTConfig

    def __init__(self, config: DuetGPTConfig) -> None:
        super().__init__(config)
        D = config.transformer.n_embd
        self.leader_in = Linear(D, D)
        self.leader_in.apply(_init_weights)
        self.leader_encoder = None if config.leader_encoder is None else Transformer(config.leader_encoder)

    @property
    def pad_token(self) -> int:
        """The leader's token where there is no leader (before its first step, after its last): the
        part tables' start-token row."""
        return self.config.codebook_size

    def leader_tokens(self, leader: Mapping[str, torch.Tensor], num_tokens: int | None = None, margin: int = 0
                      ) -> torch.Tensor:
        """The leader's part tokens ``{part: (B, N + 2 margin)}`` (``margin`` tokens of real context
        either side) -> the leader stream ``(B, N, D)``: the sum of the parts' embeddings through
        ``leader_in``, then the leader encoder (if any) over the whole sequence. Where the encoder
        reaches past the given context it sees :attr:`pad_token` (no leader), as at a song's edges."""
        c = self.config
        total = next(iter(leader.values())).shape[1]
        N = total - 2 * margin if num_tokens is None else num_tokens
        back, ahead = c.leader_reach
        lo = margin - back  # index of the first token the encoder needs; negative: pad before
        hi = margin + N + ahead
        x = 0
        for p in c.parts:
            t = leader[p].long()
            t = F.pad(t, (max(0, -lo), max(0, hi - total)), value=self.pad_token)[:, max(0, lo):max(0, lo) + hi - lo]
            x = x + self.token_embedding[p](t)  # (B, back + N + ahead, D)
        x = self.leader_in(x)
        if self.leader_encoder is not None:
            x = self.leader_encoder.forward_chunked(x, 1, LEADER_ENCODER_CHUNK)
        return x[:, back:back + N]

    def condition_tokens(self, condition: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        """The music (+ genre) token and the leader token of every step, ``(B, n, D)`` each."""
        return super().condition_tokens(condition) + [condition["leader"].to(self.leader_in.weight.dtype)]

    def forward(self, music: torch.Tensor, previous: Mapping[str, torch.Tensor], genre: torch.Tensor | None = None,
                leader: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Teacher-forced logits over whole windows (training): ``{stream: (B, n, K)}``; ``leader`` is
        :meth:`leader_tokens`'s output."""
        if leader is None:
            raise ValueError("the interaction GPT needs the leader's tokens (leader_tokens(...))")
        return self.logits(self.hidden({"music": music, "genre": genre, "leader": leader}, previous))


__all__ = ["DuetGPTConfig", "DuetGPT", "TRANSLATION", "LEADER_ENCODER_CHUNK"]
