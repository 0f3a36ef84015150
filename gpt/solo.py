"""The solo GPT: Bailando's cross-conditional layout over the choreographic memory, on
:mod:`gpt.transformer`.

Every step ``i`` (one token of every body part, 8 frames at 60 fps) holds ``1 + P`` tokens, step-major:
``[music_i, part_1 token of step i - 1, ..., part_P token of step i - 1]``. Each part's output at step
``i`` predicts that part's token ``i``, from the music of its own time and everything the window holds:
all streams of steps ``<= i`` (Bailando's tiled mask; a part sees the other parts' tokens of the step
before, so the parts move together, and the music of the step it is about to dance).

What the references lack, by config:

* learned start tokens (index ``codebook_size`` of every part's table) stand for "no past": a dance
  starts from the music alone, no ground-truth seed; training feeds them at the start of every
  window, so the model learns to begin anywhere in a song;
* the music token is a linear map of the token's own ``frames_per_token`` feature frames plus
  ``music_context`` tokens of frames on each side (look-ahead; Bailando++ uses 5 with a music
  transformer, Bailando 0 with one 7.5-fps frame); with ``music_encoder`` set, those tokens then pass
  a look-ahead transformer over the song (Bailando++'s music transformer), run once per sequence
  since the whole song is known before the dance starts;
* an optional genre label, added to the music token; index 0 is "none", trained in by dropout, so a
  song with no label (any user's song) is in distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F

from data.errors import is_non_negative, is_positive_int
from gpt.transformer import KVCache, Linear, Transformer, TransformerConfig, _init_weights, step_index

MUSIC_ENCODER_CHUNK = 256
"""Music tokens the encoder runs at a time over a long song (with its reach as context either side)."""

AIST_GENRES = ("BR", "PO", "LO", "MH", "LH", "HO", "WA", "KR", "JS", "JB")
"""AIST++'s ten genres (break, pop, lock, middle hip-hop, LA hip-hop, house, waack, krump, street jazz,
ballet jazz), the order of genre indices 1..10 (0 is "none")."""


@dataclass
class SoloGPTConfig:
    """The solo GPT. Fields marked *from the tokenizer* are filled by the training stage from the
    tokenizer checkpoint (and stored with the GPT's), never written in a YAML."""

    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    """The transformer stack (Bailando: 12 layers of which the RL stage freezes the first 6)."""
    parts: tuple[str, ...] = ("upper", "lower")
    """*From the tokenizer*: the token streams, in order."""
    codebook_size: int = 512
    """*From the tokenizer*: codes per part."""
    frames_per_token: int = 8
    """*From the tokenizer*: its temporal stride, in music frames (music is at the motion fps)."""
    music_dim: int = 55
    """Channels of a music feature frame (the feature set's width)."""
    music_context: int = 1
    """Tokens of music frames on each side of a token's own that its music token sees (look-ahead)."""
    music_encoder: TransformerConfig | None = None
    """None: the music token is the linear map of its frames (Bailando). A config: those tokens then
    pass this look-ahead transformer (``window - 1`` tokens back and ``ahead`` tokens ahead per layer;
    its ``n_embd`` must be the GPT's), run once over the whole song (Bailando++)."""
    genres: tuple[str, ...] = ()
    """Genre labels the model knows (index 1..G; 0 = none). Empty: no genre input."""
    genre_dropout: float = 0.2
    """Training: the fraction of windows whose genre is replaced by "none"."""
    frozen_layers: int = 6
    """RL fine-tuning keeps the first this many blocks frozen (Bailando's ``gpt_base``)."""

    def __post_init__(self) -> None:
        if isinstance(self.transformer, Mapping):
            self.transformer = TransformerConfig(**self.transformer)
        if isinstance(self.music_encoder, Mapping):
            self.music_encoder = TransformerConfig(**self.music_encoder)
        if self.music_encoder is not None and self.music_encoder.n_embd != self.transformer.n_embd:
            raise ValueError(f"SoloGPTConfig.music_encoder.n_embd ({self.music_encoder.n_embd}) must be the "
                             f"transformer's n_embd ({self.transformer.n_embd})")
        self.parts = tuple(self.parts)
        self.genres = tuple(self.genres)
        if not self.parts or len(set(self.parts)) != len(self.parts):
            raise ValueError(f"SoloGPTConfig.parts must be distinct part names, got {self.parts!r}")
        for name in ("codebook_size", "frames_per_token", "music_dim"):
            if not is_positive_int(getattr(self, name)):
                raise ValueError(f"SoloGPTConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if not (isinstance(self.music_context, int) and self.music_context >= 0):
            raise ValueError(f"SoloGPTConfig.music_context must be an integer >= 0, got {self.music_context!r}")
        if not (is_non_negative(self.genre_dropout) and self.genre_dropout <= 1):
            raise ValueError(f"SoloGPTConfig.genre_dropout must be in [0, 1], got {self.genre_dropout!r}")
        if not (isinstance(self.frozen_layers, int) and 0 <= self.frozen_layers < self.transformer.n_layer):
            raise ValueError(f"SoloGPTConfig.frozen_layers must be in [0, n_layer), got {self.frozen_layers!r}")
        if len(set(self.genres)) != len(self.genres) or "none" in self.genres:
            raise ValueError(f"SoloGPTConfig.genres must be distinct and not 'none', got {self.genres!r}")

    @property
    def vocab(self) -> dict[str, int]:
        """The token streams the model samples, in order, and each one's codes (its start token is
        one more: index ``codes``)."""
        return {p: self.codebook_size for p in self.parts}

    @property
    def num_conditions(self) -> int:
        """Condition streams at the head of every step (the music)."""
        return 1

    @property
    def tokens_per_step(self) -> int:
        return self.num_conditions + len(self.vocab)

    @property
    def music_frames_per_token(self) -> int:
        """Feature frames one music token reads: its own and ``music_context`` tokens' each side."""
        return (2 * self.music_context + 1) * self.frames_per_token

    @property
    def music_reach(self) -> tuple[int, int]:
        """Tokens before and after its own that the music encoder mixes into a token, ``(back,
        ahead)``; ``(0, 0)`` without an encoder."""
        e = self.music_encoder
        return (0, 0) if e is None else (e.n_layer * (e.window - 1), e.n_layer * e.ahead)

    @property
    def music_margin(self) -> int:
        """Frames of real music a training window needs on each side so that every music token is
        computed as in a whole song: the look-ahead frames plus the encoder's reach."""
        return (self.music_context + max(self.music_reach)) * self.frames_per_token

    def genre_index(self, genre: str | None) -> int:
        """0 for None / "none", else 1 + the genre's position; an unknown genre is an error."""
        if genre is None or genre == "none":
            return 0
        if genre not in self.genres:
            raise ValueError(f"unknown genre {genre!r}: this model knows {', '.join(self.genres) or 'none'}")
        return 1 + self.genres.index(genre)


def music_windows(music: torch.Tensor, frames_per_token: int, context: int, num_tokens: int | None = None,
                  margin: int = 0, transform=None) -> torch.Tensor:
    """Per-token music windows ``(B, N, (2c + 1) * f * F)`` from frames ``(B, T, F)``.

    Token ``i`` reads frames ``[(i - c) f, (i + 1 + c) f)`` of the motion's time line; ``music`` may
    carry ``margin`` extra frames before frame 0 (and after the end), real neighbouring audio where
    there is some; what is missing is zeros (the song's edges), in the raw features' units, as the data
    module's margins: ``transform`` (a normalisation) is applied after padding. ``N`` defaults to
    ``(T - 2 margin) / f``.
    """
    T = music.shape[1]
    f, c = frames_per_token, context
    if num_tokens is None:
        num_tokens = (T - 2 * margin) // f
    pad_before = max(0, c * f - margin)
    first = margin - c * f + pad_before  # index of the frame token 0's window starts at (after padding)
    total = first + (num_tokens + 2 * c) * f
    pad_after = max(0, total - (T + pad_before))
    x = F.pad(music, (0, 0, pad_before, pad_after))  # (B, T', F)
    x = x[:, first:first + (num_tokens + 2 * c) * f]  # (B, (N + 2c) f, F)
    if transform is not None:
        x = transform(x)
    x = rearrange(x, "b (n f) d -> b n (f d)", f=f)  # (B, N + 2c, f F)
    if c == 0:
        return x
    return torch.cat([x[:, k:k + num_tokens] for k in range(2 * c + 1)], dim=-1)  # (B, N, (2c+1) f F)


class SoloGPT(nn.Module):
    """Music (+ genre) -> per-part token logits, with a KV cache for generation (a
    :class:`gpt.sampling.StepModel`).

    Inputs per step: ``music`` ``(B, n, n_embd)``, the music stream's tokens (:meth:`music_tokens` of
    the song's feature frames, computed once per sequence), ``genre`` ``(B, n)`` long (0 = none), and
    each part's token of the step before, ``(B, n)`` long (``codebook_size`` = the start token).
    Output: ``{part: (B, n, codebook_size)}`` logits.
    """

    def __init__(self, config: SoloGPTConfig) -> None:
        super().__init__()
        self.config = config
        D = config.transformer.n_embd
        self.music_in = Linear(config.music_frames_per_token * config.music_dim, D)
        self.music_encoder = None if config.music_encoder is None else Transformer(config.music_encoder)
        self.genre_embedding = nn.Embedding(len(config.genres) + 1, D)
        self.token_embedding = nn.ModuleDict({s: nn.Embedding(k + 1, D) for s, k in config.vocab.items()})
        self.drop = nn.Dropout(config.transformer.dropout)
        self.transformer = Transformer(config.transformer)
        self.heads = nn.ModuleDict({s: Linear(D, k, bias=False) for s, k in config.vocab.items()})
        for module in (self.music_in, self.genre_embedding, *self.token_embedding.values(), *self.heads.values()):
            module.apply(_init_weights)
        with torch.no_grad():
            self.genre_embedding.weight[0].zero_()  # "none" adds nothing
        # Per-channel statistics of the training music (saved with the weights; identity until set).
        self.register_buffer("music_mean", torch.zeros(config.music_dim))
        self.register_buffer("music_std", torch.ones(config.music_dim))

    def set_music_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Normalise music frames by these per-channel statistics (of the training songs)."""
        self.music_mean.copy_(mean.reshape(-1))
        self.music_std.copy_(std.reshape(-1))

    def music_tokens(self, music: torch.Tensor, num_tokens: int | None = None, margin: int = 0) -> torch.Tensor:
        """Music frames ``(B, T + 2 margin, F)`` at the motion fps -> the music stream's tokens
        ``(B, N, n_embd)``: each token's normalised frame window through ``music_in``, then the music
        encoder (if any) over the whole sequence, with ``margin`` frames of real context where the
        encoder reaches past the window (zeros beyond, as at a song's edges)."""
        c = self.config
        f = c.frames_per_token
        N = (music.shape[1] - 2 * margin) // f if num_tokens is None else num_tokens
        back, ahead = c.music_reach
        norm = lambda x: (x - self.music_mean) / self.music_std  # noqa: E731
        # The window of token -back starts back * f frames before token 0's.
        windows = music_windows(music.to(self.music_mean.dtype), f, c.music_context, N + back + ahead,
                                margin - back * f, transform=norm)  # (B, back + N + ahead, (2c+1) f F)
        x = self.music_in(windows.to(self.music_in.weight.dtype))  # (B, back + N + ahead, D); stats stay float32
        if self.music_encoder is not None:
            x = self.music_encoder.forward_chunked(x, 1, MUSIC_ENCODER_CHUNK)[:, back:back + N]
        return x

    # -- StepModel ------------------------------------------------------------------------------------
    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self.config.vocab)

    @property
    def window(self) -> int:
        return self.config.transformer.window

    @property
    def receptive_field(self) -> int:
        return self.transformer.receptive_field

    @property
    def start_token(self) -> int:
        """The start token of the part streams (every part has ``codebook_size`` codes)."""
        return self.config.codebook_size

    @property
    def start_ids(self) -> dict[str, int]:
        """Each stream's start token (its number of codes)."""
        return dict(self.config.vocab)

    def start_tokens(self, batch: int) -> dict[str, torch.Tensor]:
        device = self.music_mean.device
        return {s: torch.full((batch,), k, dtype=torch.long, device=device) for s, k in self.start_ids.items()}

    def new_cache(self, batch: int) -> KVCache:
        return self.transformer.new_cache(batch, self.config.tokens_per_step)

    def forward_steps(self, condition: Mapping[str, torch.Tensor], previous: Mapping[str, torch.Tensor],
                      start: int, cache: KVCache | None) -> dict[str, torch.Tensor]:
        return self.logits(self.hidden(condition, previous, start, cache))

    # -- the network ----------------------------------------------------------------------------------
    def condition_tokens(self, condition: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        """The condition streams of every step, ``(B, n, D)`` each, in order: the music token
        (:meth:`music_tokens`'s) plus the genre's embedding."""
        m = condition["music"].to(self.music_in.weight.dtype)  # (B, n, D)
        genre = condition.get("genre")
        return [m if genre is None else m + self.genre_embedding(genre)]

    def embed_steps(self, condition: Mapping[str, torch.Tensor], previous: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Step-major token embeddings ``(B, n * tokens_per_step, D)``: the condition streams, then each
        sampled stream's token of the step before."""
        streams = self.condition_tokens(condition) + [self.token_embedding[s](previous[s]) for s in self.streams]
        x = torch.stack(streams, dim=2)  # (B, n, S, D)
        return self.drop(rearrange(x, "b n s d -> b (n s) d"))

    def hidden(self, condition: Mapping[str, torch.Tensor], previous: Mapping[str, torch.Tensor],
               start: int = 0, cache: KVCache | None = None) -> torch.Tensor:
        """The transformer's output per step and stream, ``(B, n, tokens_per_step, D)``."""
        x = self.embed_steps(condition, previous)
        n = x.shape[1] // self.config.tokens_per_step
        steps = step_index(n, self.config.tokens_per_step, start, device=x.device)
        h = self.transformer(x, steps, cache)
        return rearrange(h, "b (n s) d -> b n s d", s=self.config.tokens_per_step)

    def logits(self, hidden: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{stream: (B, n, K)}`` read at each sampled stream's own position."""
        c = self.config.num_conditions
        return {s: self.heads[s](hidden[:, :, c + i]) for i, s in enumerate(self.streams)}

    def forward(self, music: torch.Tensor, previous: Mapping[str, torch.Tensor], genre: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """Teacher-forced logits over whole windows (training): ``{part: (B, n, K)}``."""
        return self.logits(self.hidden({"music": music, "genre": genre}, previous))


def shift_right(tokens: Mapping[str, torch.Tensor], start_token: int | Mapping[str, int]) -> dict[str, torch.Tensor]:
    """The tokens each step is fed: the start token (one for all streams, or per stream), then every
    token but the last. ``(B, n)`` each."""
    start = start_token if isinstance(start_token, Mapping) else dict.fromkeys(tokens, start_token)
    return {p: F.pad(t[:, :-1], (1, 0), value=start[p]) for p, t in tokens.items()}


def token_loss(logits: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cross-entropy per part and their sum (``loss``, Bailando's CE_up + CE_down) and top-1 accuracy."""
    out: dict[str, torch.Tensor] = {}
    total = 0.0
    for p, lg in logits.items():
        ce = F.cross_entropy(lg.flatten(0, 1).float(), targets[p].flatten())
        out[f"{p}/ce"] = ce
        out[f"{p}/acc"] = (lg.argmax(-1) == targets[p]).float().mean()
        total = total + ce
    out["loss"] = total
    return out
