"""One body part's VQ-VAE: a dilated 1D-conv encoder, an EMA vector quantiser, and one conv decoder per
output head (positions, 6D rotations, root velocity).

Layout (Bailando's and Duolando's Jukebox-style stack, every size in :class:`PartVQVAEConfig`)::

    x (B, T, C_in) --encoder--> z (B, T/s, D) --quantiser--> q (B, T/s, D), indices (B, T/s)
    q --decoder["pos"]--> (B, T, C_in)    q --decoder["rot"]--> (B, T, 6 J)    q --decoder["root"]--> (B, T, 3)

* encoder: ``levels`` x [Conv1d(k4, s2, p1) -> ``depth`` dilated residual units (dilation
  ``growth**i``)] -> Conv1d(k3) to ``code_dim``; the temporal stride is ``s = 2**levels`` (8 = three
  levels at 60 fps, 4 = two at 30 fps: 7.5 tokens per second either way);
* decoder per head: Conv1d(k3) -> ``levels`` x [residual units (dilations reversed) -> x2 upsampling
  (``upsample``: ConvTranspose1d(k4, s2, p1) as Bailando, or nearest repeat + Conv1d(k3))] -> Conv1d(k3)
  to the head's channels; no normalisation layers, no output activation (``shared_decoder``: one
  stack for all heads, each head only its own output conv);
* input standardisation (``normalize``, pasdeux's addition; Bailando feeds raw metres): every input
  and target channel is standardised by a mean and std measured on the first training batch and
  then frozen (:class:`Standardizer`, buffers in the state dict). Losses stay in the data's units
  (metres, m/s, 6D), so the loss weights mean what Bailando's do; without it the stack spends its
  first steps learning the mean pose;
* quantiser: :class:`vector_quantize_pytorch.VectorQuantize` with every default that matters set
  explicitly (EMA decay, k-means init, dead-code threshold, commitment weight, rotation trick, codebook
  sync). Its EMA statistics (``initted``, ``cluster_size``, ``embed_avg``, ``embed``) are module
  buffers, so they are in the state dict and a checkpoint resumes the codebook exactly.

DDP: the quantiser all-reduces its EMA statistics exactly when a process group with world size > 1
exists when it is built (vector-quantize-pytorch decides that itself; off under DDP, every rank would
drift to its own codebook). Lightning constructs a LightningModule before the process group exists,
so the training stages build their modules in ``configure_model``, which Lightning runs after the
group is up (and on ``load_from_checkpoint``).

Contract (shared by every quantiser/tokenizer in pasdeux): ``encode(x) -> indices``,
``decode(indices) -> reconstruction``, ``forward(x) -> (reconstruction, indices, losses)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping

import torch
import torch.distributed as dist
from einops import rearrange
from torch import nn
from torch.nn import functional as F
from vector_quantize_pytorch import VectorQuantize

from data.errors import is_int, is_non_negative, is_positive_int
from training.dist import world_size
from tokenizer.losses import focal_frequency_loss, l1_derivatives, temporal_difference


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------
@dataclass
class PartVQVAEConfig:
    """Sizes, quantiser settings and loss weights of one part's VQ-VAE.

    Defaults are Bailando's paper sizes (its ``sep_vqvae`` config). The channel counts are
    derived by the tokenizer from the part's joints; a YAML sets only the sizes.
    """

    in_channels: int | None = None
    """C_in: input channels (3 x the part's joints); filled in by the tokenizer from the part set."""
    rot_channels: int = 0
    """Channels of the rotation head (6 x the part's joints); 0: no rotation head."""
    root_channels: int = 0
    """Channels of the root-velocity head (3 for the lower body); 0: no root head."""
    width: int = 512
    """Channels of every conv layer inside encoder and decoders."""
    depth: int = 3
    """Dilated residual units per level."""
    levels: int = 3
    """Stride-2 levels: temporal stride 2**levels (3 -> 8 at 60 fps, 2 -> 4 at 30 fps)."""
    dilation_growth: int = 3
    """Dilation of residual unit i is growth**i (1, 3, 9 for depth 3)."""
    reverse_decoder_dilation: bool = True
    """Decoder residual units run the dilations largest-first (Bailando's setting)."""
    upsample: Literal["transposed", "nearest"] = "transposed"
    """How the decoder doubles the frame rate at each level: ``transposed`` conv (k4, s2; Bailando,
    Duolando) or ``nearest`` repeat then conv (k3; T2M-GPT), which has no token-periodic pattern."""
    shared_decoder: bool = False
    """One decoder trunk for all heads, each head only its own output conv (plus ``head_blocks``
    residual units): about the cost of one decoder whatever the number of heads; false: a whole
    decoder per head, as Duolando."""
    head_blocks: int = 0
    """With ``shared_decoder``: residual units (dilation 1, full frame rate) each head runs on the
    trunk's features before its output conv, so positions, rotations and root velocity can read
    them differently; 0: the output conv alone."""
    normalize: bool = True
    """Standardise every input and target channel by its mean and std, measured on the first training
    batch and then frozen (saved with the weights). Bailando feeds raw metres; with them the network
    spends its first thousands of steps learning the mean pose."""
    code_dim: int = 512
    """D: dimension of a code vector (encoder output channels)."""
    codebook_size: int = 512
    """K: codes per codebook."""
    ema_decay: float = 0.99
    """EMA decay of the codebook statistics (Bailando's l_mu)."""
    kmeans_init: bool = True
    """Initialise the codebook by k-means on the first training batch (else uniform random)."""
    kmeans_iters: int = 10
    """k-means iterations of that initialisation."""
    dead_code_threshold: float = 1.0
    """Codes whose EMA usage count falls below this are re-seeded from current encoder outputs; 0 off."""
    commitment_weight: float = 0.02
    """Weight of the commitment loss ||z - sg(q)||^2 (mean); the codebook itself learns by EMA."""
    rotation_trick: bool = False
    """Gradients through the quantiser by the rotation trick (Fifty et al. 2024) instead of the
    straight-through estimator (the library's default is on; off here: it reconstructed worse on the
    quick solo config, see the README)."""
    vel_weight: float = 1.0
    """Weight of the L1 velocity term (positions and rotations)."""
    acc_weight: float = 1.0
    """Weight of the L1 acceleration term (positions and rotations; for the root: its first difference)."""
    rot_weight: float = 1.0
    """Weight of the rotation head's losses (L1 on 6D, plus its velocity and acceleration terms)."""
    root_weight: float = 1.0
    """Weight of the root head's losses (L1 on the velocity plus acc_weight x L1 on its difference)."""
    freq_weight: float = 0.0
    """Weight of FreqVQ's focal frequency loss (ExpressiveBailando), computed in standardised units
    when ``normalize`` is on; 0 off."""
    freq_alpha: float = 1.0
    """Focusing exponent of the focal frequency loss."""
    freq_domain: Literal["position", "velocity"] = "velocity"
    """What the focal frequency loss compares: the velocities' spectra (their first difference: the
    spectrum times ~2 pi f, so fast movement is not drowned by the large slow content) or the
    positions'. On positions, as the FFL paper applies it, it adds high-frequency jitter to the
    decoded motion (the ablation is in the README, re-measured by ``bench/tokenizer_report.py``)."""

    def __post_init__(self) -> None:
        if self.in_channels is not None and not is_positive_int(self.in_channels):
            raise ValueError(f"in_channels must be a positive integer or None, got {self.in_channels!r}")
        for name in ("width", "depth", "levels", "dilation_growth", "code_dim", "codebook_size", "kmeans_iters"):
            if not is_positive_int(getattr(self, name)):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("rot_channels", "root_channels", "head_blocks"):
            value = getattr(self, name)
            if not (is_int(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.codebook_size < 2:
            raise ValueError(f"codebook_size must be at least 2, got {self.codebook_size}")
        if not (isinstance(self.ema_decay, (int, float)) and 0.0 < self.ema_decay < 1.0):
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay!r}")
        for name in ("dead_code_threshold", "commitment_weight", "vel_weight", "acc_weight", "rot_weight",
                     "root_weight", "freq_weight", "freq_alpha"):
            if not is_non_negative(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)!r}")
        if self.upsample not in ("transposed", "nearest"):
            raise ValueError(f"upsample must be transposed or nearest, got {self.upsample!r}")
        if self.head_blocks and not self.shared_decoder:
            raise ValueError("head_blocks needs shared_decoder: true (separate decoders have whole stacks per head)")
        if self.freq_domain not in ("position", "velocity"):
            raise ValueError(f"freq_domain must be position or velocity, got {self.freq_domain!r}")
        for name in ("kmeans_init", "rotation_trick", "reverse_decoder_dilation", "shared_decoder", "normalize"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")

    @property
    def stride(self) -> int:
        """Frames per token."""
        return 2 ** self.levels

    def head_channels(self) -> dict[str, int]:
        """Output channels per decoder head that exists."""
        if self.in_channels is None:
            raise ValueError("in_channels is not set: the tokenizer derives it from the part's joints")
        out = {"pos": self.in_channels, "rot": self.rot_channels, "root": self.root_channels}
        return {k: v for k, v in out.items() if v > 0}


# --------------------------------------------------------------------------------------------------
# Conv blocks
# --------------------------------------------------------------------------------------------------
class ResidualUnit(nn.Module):
    """ReLU -> Conv1d(k3, dilation d) -> ReLU -> Conv1d(k1), added to the input; length preserved."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(width, width, kernel_size=3, dilation=dilation, padding=dilation),
            nn.ReLU(),
            nn.Conv1d(width, width, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, W, T) -> (B, W, T)
        return x + self.block(x)


class DilatedStack(nn.Sequential):
    """``depth`` residual units with dilations ``growth**i`` (reversed: largest first)."""

    def __init__(self, width: int, depth: int, growth: int, reverse: bool = False) -> None:
        dilations = [growth ** i for i in range(depth)]
        super().__init__(*(ResidualUnit(width, d) for d in (dilations[::-1] if reverse else dilations)))


class ConvEncoder(nn.Module):
    """``(B, C_in, T) -> (B, D, T / 2**levels)``."""

    def __init__(self, in_channels: int, width: int, code_dim: int, levels: int, depth: int, growth: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for level in range(levels):
            blocks += [nn.Conv1d(in_channels if level == 0 else width, width, kernel_size=4, stride=2, padding=1),
                       DilatedStack(width, depth, growth)]
        blocks.append(nn.Conv1d(width, code_dim, kernel_size=3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def upsampler(width: int, kind: str) -> nn.Module:
    """x2 in time, ``(B, W, T) -> (B, W, 2T)``: ``transposed`` is ConvTranspose1d(k4, s2, p1) (Bailando,
    Duolando); ``nearest`` repeats every frame and smooths with Conv1d(k3) (T2M-GPT's choice): a
    transposed conv with stride 2 and kernel 4 gives even and odd output frames different sums of
    weights, a pattern that repeats at every token and shows as spectral peaks at the token rate
    and its harmonics."""
    if kind == "transposed":
        return nn.ConvTranspose1d(width, width, kernel_size=4, stride=2, padding=1)
    if kind == "nearest":
        return NearestUpConv(width)
    raise ValueError(f"upsample must be transposed or nearest, got {kind!r}")


class NearestUpConv(nn.Module):
    """Nearest x2 upsampling then Conv1d(k3, pad 1), computed at the input's rate: ``(B, W, T) -> (B, W, 2T)``.

    On a repeated sequence a 3-tap conv sees two distinct inputs per output frame: with taps
    ``(w0, w1, w2)``, output ``2i`` is ``w0 x[i-1] + (w1 + w2) x[i]`` and output ``2i + 1`` is
    ``(w0 + w1) x[i] + w2 x[i+1]``. So one 2-tap conv over the zero-padded input, with the two phases'
    summed taps stacked as ``2W`` output channels, gives both phases for two thirds of the multiply-adds
    of convolving the upsampled sequence. The parameters are exactly those of the plain
    ``Upsample -> Conv1d(k3)`` (``conv.weight``, ``conv.bias``), and so is the function.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel_size=3, padding=1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before this class held the conv as ``Sequential(Upsample, Conv1d)[1]``.
        for name in ("weight", "bias"):
            if f"{prefix}1.{name}" in state_dict:
                state_dict[f"{prefix}conv.{name}"] = state_dict.pop(f"{prefix}1.{name}")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w0, w1, w2 = self.conv.weight.unbind(-1)  # (W_out, W_in) each
        even = torch.stack([w0, w1 + w2], dim=-1)  # taps on (x[i-1], x[i])
        odd = torch.stack([w0 + w1, w2], dim=-1)  # taps on (x[i], x[i+1]): the next window
        both = F.conv1d(F.pad(x, (1, 1)), torch.cat([even, odd]), torch.cat([self.conv.bias, self.conv.bias]))
        e, o = both.chunk(2, dim=1)  # (B, W, T + 1) each; window j covers (x[j-1], x[j])
        return torch.stack([e[..., :-1], o[..., 1:]], dim=-1).flatten(-2)  # (B, W, 2T), phases interleaved


class ConvDecoder(nn.Module):
    """``(B, D, N) -> (B, C_out, N * 2**levels)``; ``out_channels=None`` stops before the output conv
    (``(B, width, N * 2**levels)`` features, for heads that share the stack)."""

    def __init__(self, code_dim: int, width: int, out_channels: int | None, levels: int, depth: int, growth: int,
                 reverse_dilation: bool = True, upsample: str = "transposed") -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv1d(code_dim, width, kernel_size=3, padding=1)]
        for _ in range(levels):
            blocks += [DilatedStack(width, depth, growth, reverse=reverse_dilation),
                       upsampler(width, upsample)]
        if out_channels is not None:
            blocks.append(nn.Conv1d(width, out_channels, kernel_size=3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return self.net(q)


def build_quantizer(config: PartVQVAEConfig, sync_codebook: bool | None = None) -> VectorQuantize:
    """The EMA codebook of one part, with the library's defaults spelled out (they change between
    releases: 1.32.0's decay 0.8, no k-means and the rotation trick on would all be silent).

    ``sync_codebook=None`` lets the library decide: it all-reduces the EMA statistics exactly when a
    process group with more than one process exists at this moment (and remembers that answer for
    the life of the process), so a quantiser that trains under DDP must be built after the group
    is set up. ``False`` for a frozen codebook, whatever the process group.
    """
    return VectorQuantize(
        dim=config.code_dim,
        codebook_size=config.codebook_size,
        codebook_dim=None,  # no projection: codes live in the encoder's output space
        heads=1,
        separate_codebook_per_head=False,
        decay=config.ema_decay,
        eps=1e-5,
        kmeans_init=config.kmeans_init,
        kmeans_iters=config.kmeans_iters,
        sync_kmeans=True,  # with sync on, k-means samples and averages over every rank
        use_cosine_sim=False,  # Euclidean nearest neighbour, as Bailando
        threshold_ema_dead_code=config.dead_code_threshold,
        channel_last=True,
        commitment_weight=config.commitment_weight,
        commitment_use_cross_entropy_loss=False,
        orthogonal_reg_weight=0.0,
        codebook_diversity_loss_weight=0.0,
        stochastic_sample_codes=False,  # nearest code, never sampled
        straight_through=False,  # (Gumbel straight-through; the plain STE is used when rotation_trick is off)
        rotation_trick=config.rotation_trick,
        directional_reparam=False,
        sync_codebook=sync_codebook,  # None: the library asks torch.distributed
        ema_update=True,
        learnable_codebook=False,
        affine_param=False,
    )


def _head(width: int, channels: int, blocks: int) -> nn.Module:
    """A head on the shared trunk: ``blocks`` residual units, then the output conv (a bare conv when
    there are none, so its weights keep the names ``decoders.<head>.weight``)."""
    out = nn.Conv1d(width, channels, kernel_size=3, padding=1)
    return nn.Sequential(*(ResidualUnit(width, 1) for _ in range(blocks)), out) if blocks else out


def _full_precision(x: torch.Tensor):
    """A block with autocast off on ``x``'s device (the library turns it off only for CUDA)."""
    return torch.autocast(device_type=x.device.type, enabled=False)


class Standardizer(nn.Module):
    """Per-channel ``(x - mean) / std``, measured once on the first training batch, then frozen.

    The statistics are buffers (in the state dict, so a checkpoint restores them). Under DDP the
    sums are all-reduced, so every rank gets the same numbers. ``std`` is floored at ``min_std``: a
    channel that never moves (the pelvis slot, always zero) must not be blown up.
    """

    def __init__(self, channels: int, min_std: float = 1e-2) -> None:
        super().__init__()
        self.min_std = min_std
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))
        self.register_buffer("initted", torch.tensor(False))

    @torch.no_grad()
    def init_(self, x: torch.Tensor) -> None:
        """Set the statistics from ``x`` ``(B, T, C)`` unless already set."""
        if bool(self.initted):
            return
        x = x.detach().double()
        stats = torch.cat([x.sum(dim=(0, 1)), x.square().sum(dim=(0, 1)),
                           x.new_tensor([x.shape[0] * x.shape[1]])])  # (2C + 1,)
        if world_size() > 1:
            dist.all_reduce(stats)
        C = x.shape[-1]
        count = stats[-1]
        mean = stats[:C] / count
        var = (stats[C:2 * C] / count - mean.square()).clamp_min(0.0)
        self.mean.copy_(mean.to(self.mean))
        self.std.copy_(var.sqrt().clamp_min(self.min_std).to(self.std))
        self.initted.fill_(True)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.std + self.mean


# --------------------------------------------------------------------------------------------------
# The part VQ-VAE
# --------------------------------------------------------------------------------------------------
class PartVQVAE(nn.Module):
    """Encoder, EMA codebook and one decoder per head for one body part.

    Args:
        config: sizes and settings; ``in_channels`` must be set.
        sync_codebook: all-reduce the codebook statistics across processes; ``None`` lets the
            library decide now (see :func:`build_quantizer`).
    """

    def __init__(self, config: PartVQVAEConfig, sync_codebook: bool | None = None) -> None:
        super().__init__()
        self.config = config
        heads = config.head_channels()
        c = config
        self.encoder = ConvEncoder(c.in_channels, c.width, c.code_dim, c.levels, c.depth, c.dilation_growth)
        self.quantizer = build_quantizer(c, sync_codebook)
        if c.shared_decoder:
            self.trunk = ConvDecoder(c.code_dim, c.width, None, c.levels, c.depth, c.dilation_growth,
                                     c.reverse_decoder_dilation, c.upsample)
            self.decoders = nn.ModuleDict({name: _head(c.width, ch, c.head_blocks) for name, ch in heads.items()})
        else:
            self.trunk = None
            self.decoders = nn.ModuleDict({name: ConvDecoder(c.code_dim, c.width, ch, c.levels, c.depth,
                                                             c.dilation_growth, c.reverse_decoder_dilation, c.upsample)
                                           for name, ch in heads.items()})
        # Input and head outputs in standardised units; "pos" both normalises the input and
        # de-normalises the position head.
        self.norms = nn.ModuleDict({name: Standardizer(ch) for name, ch in heads.items()}) if c.normalize else None

    # -- codebook ------------------------------------------------------------------------------------
    @property
    def stride(self) -> int:
        return self.config.stride

    @property
    def codebook(self) -> torch.Tensor:
        """(K, D) the current code vectors (a view of the EMA buffer)."""
        return self.quantizer.codebook

    # -- contract ------------------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.config.in_channels:
            raise ValueError(f"expected (B, T, {self.config.in_channels}), got {tuple(x.shape)}")
        if x.shape[1] == 0 or x.shape[1] % self.stride:
            raise ValueError(f"T = {x.shape[1]} frames is not a positive multiple of the stride {self.stride}: "
                             "pad by repeating the last frame (tokenizer.motion.pad_to_multiple)")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder output before quantisation: ``(B, T, C_in) -> (B, T/s, D)``."""
        self._check_input(x)
        if self.norms is not None:
            x = self.norms["pos"].normalize(x)
        z = self.encoder(rearrange(x, "b t c -> b c t"))  # (B, D, N)
        return rearrange(z, "b d n -> b n d")

    @property
    def codebook_initted(self) -> bool:
        """False until k-means initialisation has run on a training batch."""
        return bool(self.quantizer._codebook.initted)

    def _lookup(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest codes with no side effect on the codebook: ``(B, N, D) -> (q, indices)``, in float32."""
        z = z.float()
        if not self.codebook_initted:
            # The library would run its k-means init on whatever it is given (a validation batch in
            # Lightning's sanity check). Before the first training batch the codebook is all zeros,
            # so the nearest code is 0 for every vector.
            indices = torch.zeros(z.shape[:2], dtype=torch.long, device=z.device)
            with _full_precision(z):
                return self.quantizer.get_output_from_indices(indices).float(), indices
        was_training = self.quantizer.training
        self.quantizer.eval()  # eval: no EMA update, no dead-code replacement
        try:
            with _full_precision(z):
                q, indices, _ = self.quantizer(z)
        finally:
            self.quantizer.train(was_training)
        return q, indices.long()

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, N, D) -> (q (B, N, D), indices (B, N) int64, commitment MSE ())``.

        In training the EMA codebook updates (k-means init on the first batch, dead codes
        re-seeded) and ``q`` carries the straight-through (or rotation-trick) gradient; in eval ``q``
        is exactly the codebook rows and nothing changes. Always in float32, under mixed precision
        too: distances, k-means and the EMA statistics in bf16 would pick wrong codes and drift.
        """
        z = z.float()
        if not self.training:
            q, indices = self._lookup(z)
            # The library reports no commitment loss in eval mode; validation wants the number.
            return q, indices, (q - z).square().mean()
        with _full_precision(z):
            q, indices, _, breakdown = self.quantizer(z, return_loss_breakdown=True)
        return q, indices.long(), breakdown.commitment

    def decode_latent(self, q: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, N, D)`` code vectors -> ``{head: (B, N*s, C_head)}`` in the data's units."""
        q = rearrange(q, "b n d -> b d n")
        features = q if self.trunk is None else self.trunk(q)  # (B, D, N) or (B, W, T)
        out = {}
        for name, dec in self.decoders.items():
            y = rearrange(dec(features), "b c t -> b t c").float()  # losses and units in float32
            out[name] = y if self.norms is None else self.norms[name].denormalize(y)
        return out

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C_in) -> (B, T/s)`` int64 code indices; never updates the codebook, in any mode."""
        return self._lookup(self.embed(x))[1]

    @property
    def decoder_reach(self) -> int:
        """Tokens either side of a token that its decoded frames depend on: the decoder's receptive
        half-width, rounded up. A window decoded with this much context on both sides gives the
        frames of the whole sequence (:meth:`decode_span`), so long sequences decode in chunks."""
        c = self.config
        stack = sum(c.dilation_growth ** i for i in range(c.depth))  # one dilated stack's k3 taps
        reach = 1.0  # the input conv (k3) at the token rate
        for level in range(c.levels):
            reach += (stack + 1) / 2 ** level  # the stack, then the x2 upsampler, at this level's rate
        head_units = c.head_blocks if c.shared_decoder else 0
        return math.ceil(reach + (1 + head_units) / 2 ** c.levels)  # output conv (+ head units)

    def decode(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, N)`` indices -> ``{head: (B, N*s, C_head)}``."""
        self._check_indices(indices)
        return self._decode_indices(indices)

    def decode_span(self, indices: torch.Tensor, start: int, stop: int) -> dict[str, torch.Tensor]:
        """The frames of tokens ``[start, stop)`` of the ``(B, N)`` sequence, ``{head: (B, (stop -
        start)*s, C_head)}``, decoded from that span and :attr:`decoder_reach` tokens either side:
        equal to the same frames of the whole sequence's decode."""
        N, s, reach = indices.shape[1], self.stride, self.decoder_reach
        first, last = max(0, start - reach), min(N, stop + reach)
        span = indices[:, first:last]
        self._check_indices(span)  # the span only: spans covering a sequence check all of it once
        out = self._decode_indices(span)
        return {name: y[:, (start - first) * s:(stop - first) * s] for name, y in out.items()}

    def _check_indices(self, indices: torch.Tensor) -> None:
        if indices.ndim != 2:
            raise ValueError(f"expected (B, N) indices, got {tuple(indices.shape)}")
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.config.codebook_size):
            raise ValueError(f"indices must lie in [0, {self.config.codebook_size}), got "
                             f"[{int(indices.min())}, {int(indices.max())}]")

    def _decode_indices(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        with _full_precision(indices):
            q = self.quantizer.get_output_from_indices(indices).float()
        return self.decode_latent(q)

    def forward(self, x: torch.Tensor, targets: Mapping[str, torch.Tensor] | None = None
                ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Autoencode ``x`` (B, T, C_in).

        Args:
            x: the part's input channels.
            targets: per-head targets ``(B, T, C_head)``; ``pos`` defaults to ``x``. Heads without a
                target get no loss.

        Returns:
            ``({head: (B, T, C_head)}, indices (B, T/s), losses)``; losses hold ``commit`` and, per
            head with a target, the unweighted terms (``pos/rec``, ``pos/vel``, ``pos/acc``,
            ``pos/freq``, ``rot/...``, ``root/...``) and ``loss``, the weighted total.
        """
        targets = {"pos": x, **(targets or {})}
        if self.training and self.norms is not None:
            for name, norm in self.norms.items():  # first training batch only; no-ops afterwards
                if name in targets:
                    norm.init_(targets[name])
        z = self.embed(x)
        q, indices, commit = self.quantize(z)
        recon = self.decode_latent(q)
        losses = self.loss(recon, targets)
        losses["commit"] = commit
        losses["loss"] = losses["loss"] + self.config.commitment_weight * commit
        return recon, indices, losses

    def loss(self, recon: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted reconstruction losses of the heads that have targets (commitment excluded)."""
        c = self.config
        out: dict[str, torch.Tensor] = {}
        total = next(iter(recon.values())).new_zeros(())
        for head, pred in recon.items():
            if head not in targets:
                continue
            target = targets[head]
            if target.shape != pred.shape:
                raise ValueError(f"{head} target has shape {tuple(target.shape)}, the decoder gives {tuple(pred.shape)}")
            terms = l1_derivatives(pred, target)
            if head == "root":
                # Bailando's root branch: L1 on the velocity and on its first difference.
                part = c.root_weight * (terms["rec"] + c.acc_weight * terms["vel"])
                terms = {"rec": terms["rec"], "acc": terms["vel"]}
            else:
                part = terms["rec"] + c.vel_weight * terms["vel"] + c.acc_weight * terms["acc"]
                if head == "pos" and c.freq_weight > 0:
                    # In standardised units when available: the spectrum's scale (metres vs x10 hand
                    # offsets) then does not decide the weight, and freq_weight ~ 1 is comparable to L1.
                    norm = self.norms["pos"] if self.norms is not None else None
                    a, b = (pred, target) if norm is None else (norm.normalize(pred), norm.normalize(target))
                    if c.freq_domain == "velocity":
                        a, b = temporal_difference(a, 1), temporal_difference(b, 1)
                    terms["freq"] = focal_frequency_loss(a, b, c.freq_alpha)
                    part = part + c.freq_weight * terms["freq"]
                if head == "rot":
                    part = c.rot_weight * part
            out.update({f"{head}/{k}": v for k, v in terms.items()})
            total = total + part
        out["loss"] = total
        return out


__all__ = ["PartVQVAEConfig", "ResidualUnit", "DilatedStack",
           "ConvEncoder", "ConvDecoder", "build_quantizer", "Standardizer", "PartVQVAE"]
