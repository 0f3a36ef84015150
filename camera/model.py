"""The camera diffusion network: separate dance and music encoders, and a transformer decoder with
FiLM time conditioning that predicts the clean camera from a noisy one (DanceCamera3D's design,
``reference/dancecamera3d.md`` section 3.1, on pasdeux's camera representation).

Per window of ``window`` frames::

    (frames go in tokens of ``frames_per_token``: T below is then the window's token count)
    dance (B, T, 183) -> Linear -> encoder (bidirectional, rotary) -> dance tokens (B, T, D)
    music (B, T, F)   -> Linear -> encoder                          -> music tokens (B, T, D)
    memory = LayerNorm(Linear([dance tokens, music tokens]))                         (B, T, D)
    film   = time MLP(sinusoid(t)) + MLP([mean dance token, mean music token])         (B, D)
    camera x_t (B, T, 10) -> Linear -> n_layer x [self-attention, cross-attention to memory, MLP],
                             each sub-block's output scaled and shifted by its own Linear(film)
                          -> to frames (linear between token centres) + Linear(x_t per frame)
                          -> LayerNorm -> MLP -> x0 (B, T, 10)

A dropped condition (classifier-free guidance trains both with and without each) is a learned null
token per frame and a learned null summary, chosen per sample by a mask, so one batched forward
serves the three guidance passes of a sampling step. Positions are rotary (relative), in frames, for
self- and cross-attention alike; the encoders are :class:`gpt.transformer.Transformer` stacks that
see the whole window (``ahead = window``), the same blocks the GPTs use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from einops import rearrange
from torch.nn import functional as F

from camera.representation import CAMERA_CHANNELS
from data.errors import is_non_negative, is_positive_int
from gpt.transformer import Attention, Linear, Transformer, TransformerConfig, rotate, step_index

DANCE_CHANNELS = 60 * 3 + 3
"""The 60 MMD bones about the anchor, and the anchor's travel (camera.representation.dance_features)."""


@dataclass
class CameraModelConfig:
    """Sizes of the camera network (DanceCamera3D: 512 wide, 8 heads, FF 1024, 8 decoder layers, 2 + 2
    encoder layers, dropout 0.1, 150-frame windows)."""

    music_channels: int = 35
    """F: music feature channels (filled in from the feature set by the stage)."""
    window: int = 150
    """Frames per window (5 s at 30 fps)."""
    n_embd: int = 512
    """Width of every token."""
    n_head: int = 8
    """Attention heads (the head width must be even: rotary positions)."""
    n_layer: int = 8
    """Decoder layers."""
    encoder_layers: int = 2
    """Layers of each condition encoder (dance, music)."""
    mlp_ratio: float = 2.0
    """MLP hidden width in multiples of ``n_embd`` (DanceCamera3D: 1024 / 512)."""
    dropout: float = 0.1
    """Dropout on residual branches (training only; the encoders also drop attention weights, the
    decoder does not: on a CPU the attention masks cost a third of a training step)."""
    frames_per_token: int = 1
    """Frames each token carries (1: DanceCamera3D, a token per frame). A camera moves smoothly within a
    shot, so tokens of a few frames lose little and cut attention's cost by the square of it; the
    output goes back to frames by interpolating the token features and reading each frame's own
    noisy camera, so every frame still gets its own value."""

    def __post_init__(self) -> None:
        for name in ("music_channels", "window", "n_embd", "n_head", "n_layer", "encoder_layers", "frames_per_token"):
            if not is_positive_int(getattr(self, name)):
                raise ValueError(f"CameraModelConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError(f"CameraModelConfig: n_embd ({self.n_embd}) must split into n_head ({self.n_head}) "
                             "heads of even width (rotary positions)")
        if self.window % self.frames_per_token:
            raise ValueError(f"CameraModelConfig.window ({self.window}) must be a multiple of frames_per_token "
                             f"({self.frames_per_token})")
        if not (is_non_negative(self.dropout) and self.dropout < 1):
            raise ValueError(f"CameraModelConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not (is_non_negative(self.mlp_ratio) and self.mlp_ratio > 0):
            raise ValueError(f"CameraModelConfig.mlp_ratio must be > 0, got {self.mlp_ratio!r}")

    @property
    def tokens(self) -> int:
        """Tokens per window."""
        return self.window // self.frames_per_token

    def transformer(self, n_layer: int, dropout: float | None = None) -> TransformerConfig:
        """A stack over a whole window (every token sees every other)."""
        return TransformerConfig(n_layer=n_layer, n_embd=self.n_embd, n_head=self.n_head, mlp_ratio=self.mlp_ratio,
                                 dropout=self.dropout if dropout is None else dropout, window=self.tokens,
                                 ahead=self.tokens)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) integer steps -> (B, dim) sinusoids [sin, cos] at geometric frequencies (DDPM's)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / max(half - 1, 1))
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class CrossAttention(nn.Module):
    """Multi-head attention from the camera's frames to the condition memory, rotary positions in
    frames on both sides (attention depends on how far apart two frames are)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.q = Linear(config.n_embd, config.n_embd)
        self.kv = Linear(config.n_embd, 2 * config.n_embd)
        self.proj = Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        B, N, D = x.shape
        H = self.config.n_head
        q = self.q(x).view(B, N, H, D // H).transpose(1, 2)  # (B, H, N, hd)
        k, v = self.kv(memory).view(B, memory.shape[1], 2, H, D // H).permute(2, 0, 3, 1, 4)
        q, k = rotate(q, *rotary).to(x.dtype), rotate(k, *rotary).to(x.dtype)
        dropout = self.config.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return self.proj(out.transpose(1, 2).reshape(B, N, D))


class FiLMDecoderLayer(nn.Module):
    """Pre-LN self-attention, cross-attention and MLP; each sub-block's output ``y`` enters the
    residual as ``(1 + scale) y + shift`` with ``scale, shift`` from the FiLM vector (zero at init, so
    a fresh layer is a plain transformer layer)."""

    def __init__(self, config: TransformerConfig, dropout: float) -> None:
        super().__init__()
        D = config.n_embd
        hidden = int(round(config.mlp_ratio * D))
        self.ln_self, self.ln_cross, self.ln_mlp = nn.LayerNorm(D), nn.LayerNorm(D), nn.LayerNorm(D)
        self.self_attn = Attention(config)
        self.cross_attn = CrossAttention(config)
        self.mlp = nn.Sequential(Linear(D, hidden), nn.GELU(), Linear(hidden, D))
        self.film = Linear(D, 6 * D)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, film: torch.Tensor,
                rotary: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        mods = self.film(F.mish(film)).unsqueeze(1).chunk(6, dim=-1)  # 6 x (B, 1, D)
        y = self.self_attn(self.ln_self(x), rotary, None, 0, None, None)
        x = x + self.drop((1 + mods[0]) * y + mods[1])
        y = self.cross_attn(self.ln_cross(x), memory, rotary)
        x = x + self.drop((1 + mods[2]) * y + mods[3])
        y = self.mlp(self.ln_mlp(x))
        return x + self.drop((1 + mods[4]) * y + mods[5])


class ConditionEncoder(nn.Module):
    """A condition stream's tokens and summary: Linear -> bidirectional transformer; its mean over time
    through an MLP. Null token and null summary stand in for a dropped condition."""

    def __init__(self, channels: int, config: CameraModelConfig) -> None:
        super().__init__()
        D = config.n_embd
        self.frames_per_token = config.frames_per_token
        self.inp = Linear(channels * config.frames_per_token, D)
        self.encoder = Transformer(config.transformer(config.encoder_layers))
        self.summary = nn.Sequential(nn.LayerNorm(D), Linear(D, D), nn.SiLU(), Linear(D, D))
        self.null_token = nn.Parameter(torch.randn(1, 1, D) * 0.02)
        self.null_summary = nn.Parameter(torch.randn(1, D) * 0.02)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, channels), keep (B,) bool -> tokens (B, T / frames_per_token, D), summary (B, D)."""
        x = rearrange(x, "b (n p) c -> b n (p c)", p=self.frames_per_token)
        B, N, _ = x.shape
        tokens = self.encoder(self.inp(x), step_index(N, 1, device=x.device))
        summary = self.summary(tokens.mean(dim=1))
        k = keep.view(B, 1, 1).to(tokens.dtype)
        tokens = k * tokens + (1 - k) * self.null_token.to(tokens.dtype)
        summary = k[:, 0] * summary + (1 - k[:, 0]) * self.null_summary.to(summary.dtype)
        return tokens, summary


class CameraDenoiser(nn.Module):
    """x0 from a noisy camera window, its diffusion step and its (possibly dropped) conditions."""

    def __init__(self, config: CameraModelConfig) -> None:
        super().__init__()
        self.config = config
        D = config.n_embd
        self.dance = ConditionEncoder(DANCE_CHANNELS, config)
        self.music = ConditionEncoder(config.music_channels, config)
        self.fuse_tokens = nn.Sequential(Linear(2 * D, D), nn.LayerNorm(D))
        self.fuse_summary = Linear(2 * D, D)
        self.time = nn.Sequential(Linear(D, 4 * D), nn.Mish(), Linear(4 * D, D))
        p = config.frames_per_token
        self.inp = Linear(CAMERA_CHANNELS * p, D)
        decoder = config.transformer(config.n_layer, dropout=0.0)  # attention weights: no dropout
        self.layers = nn.ModuleList(FiLMDecoderLayer(decoder, config.dropout) for _ in range(config.n_layer))
        # Back to frames: the tokens' features interpolated linearly between token centres (continuous
        # across token boundaries: a head per token made each token's frames a step of their own, a
        # staircase the camera shook with), each frame's own noisy camera added, then a per-frame MLP.
        self.frame_inp = Linear(CAMERA_CHANNELS, D)
        self.ln_out = nn.LayerNorm(D)
        self.out = nn.Sequential(Linear(D, D), nn.GELU(), Linear(D, CAMERA_CHANNELS))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, dance: torch.Tensor, music: torch.Tensor,
                keep_dance: torch.Tensor, keep_music: torch.Tensor) -> torch.Tensor:
        """x_t (B, T, 10), t (B,), dance (B, T, 183), music (B, T, F), keep_* (B,) bool -> x0 (B, T, 10)."""
        p = self.config.frames_per_token
        d_tok, d_sum = self.dance(dance, keep_dance)
        m_tok, m_sum = self.music(music, keep_music)
        memory = self.fuse_tokens(torch.cat([d_tok, m_tok], dim=-1))  # (B, T, D)
        film = self.time(timestep_embedding(t, self.config.n_embd).to(x_t.dtype))
        film = film + self.fuse_summary(torch.cat([d_sum, m_sum], dim=-1))  # (B, D)
        # the decoder's heads have the encoders' width and base: the same rotary frequencies
        h = self.inp(rearrange(x_t, "b (n p) c -> b n (p c)", p=p))  # (B, N, D)
        angles = self.dance.encoder.rotary_angles(step_index(h.shape[1], 1, device=x_t.device), torch.float32)
        rotary = (angles.cos(), angles.sin())
        for layer in self.layers:
            h = layer(h, memory, film, rotary)
        T = x_t.shape[1]
        frames = h if p == 1 else F.interpolate(h.transpose(1, 2), size=T, mode="linear",
                                                align_corners=False).transpose(1, 2)  # (B, T, D)
        return self.out(self.ln_out(frames + self.frame_inp(x_t)))  # (B, T, 10)

    def guided(self, x_t: torch.Tensor, t: torch.Tensor, dance: torch.Tensor, music: torch.Tensor,
               w_dance: float, w_music: float) -> torch.Tensor:
        """The guided x0, ``f(0,0) + w_dance (f(d,0) - f(0,0)) + w_music (f(d,m) - f(d,0))``, the three
        passes in one batched forward (one pass when both weights are 1: the sum is then f(d,m))."""
        B = x_t.shape[0]
        yes, no = torch.ones(B, dtype=torch.bool, device=x_t.device), torch.zeros(B, dtype=torch.bool, device=x_t.device)
        if w_dance == 1.0 and w_music == 1.0:  # the combination collapses to the conditional pass
            return self(x_t, t, dance, music, yes, yes)
        rep = lambda a: torch.cat([a, a, a])  # noqa: E731
        out = self(rep(x_t), rep(t), rep(dance), rep(music), torch.cat([no, yes, yes]), torch.cat([no, no, yes]))
        f00, fd0, fdm = out.chunk(3)
        return f00 + w_dance * (fd0 - f00) + w_music * (fdm - fd0)


__all__ = ["CameraModelConfig", "CameraDenoiser", "DANCE_CHANNELS", "timestep_embedding"]
