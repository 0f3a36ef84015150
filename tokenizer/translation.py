"""The relative-translation VQ-VAE: where the follower stands relative to the leader, as tokens.

Duolando (Siyao et al., ICLR 2024) tokenises the follower-minus-leader pelvis offset in
world axes, times 20, with the part VQ-VAE's conv stack at stride 4. That offset changes whenever the
leader turns, even when the couple's formation does not, so by default pasdeux expresses it in the
leader's heading frame (x to the leader's left, y up, z where the leader faces; the DataModule's
``follower_root_rel_local``); ``frame: world`` is Duolando's variant (``follower_root_rel``).

Decoding back to the world (done by the duet stage, which knows the leader): world offset =
``rotate_about_y(local, leader_heading)`` for the heading frame, the offset itself for the world frame;
follower pelvis = leader pelvis + offset (:func:`follower_root`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import torch
from torch import nn

from data.geometry import heading_angle, rotate_about_y, to_heading_frame
from tokenizer.motion import pad_to_multiple
from tokenizer.vqvae import PartVQVAE, PartVQVAEConfig
from training.config import coerce_config

TranslationFrame = Literal["leader", "world"]
FRAMES = ("leader", "world")
BATCH_KEYS = {"leader": "follower_root_rel_local", "world": "follower_root_rel"}
"""The DuetDataModule key each frame reads."""


def _duolando_translation_part() -> PartVQVAEConfig:
    # Duolando: the motion VQ-VAE's stack at stride 4 (two levels), 512 codes of 512-d.
    return PartVQVAEConfig(levels=2)


@dataclass
class TranslationConfig:
    """What the relative-translation VQ-VAE encodes, and its sizes."""

    frame: TranslationFrame = "leader"
    """``leader``: the offset in the leader's heading frame (pasdeux); ``world``: world axes (Duolando)."""
    scale: float = 20.0
    """The offset in metres is multiplied by this before encoding (Duolando: 20)."""
    fps: float = 30.0
    """Frame rate of the duets (DD100: 30); with the stride it fixes the token rate."""
    part: PartVQVAEConfig = field(default_factory=_duolando_translation_part)
    """Conv stack, codebook and loss weights (in_channels is 3; rotation and root heads are unused)."""

    def __post_init__(self) -> None:
        if self.frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {self.frame!r}")
        for name in ("scale", "fps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        self.part = coerce_config(PartVQVAEConfig, self.part)
        if self.part.rot_channels or self.part.root_channels:
            raise ValueError("the translation VQ-VAE has only a position head: leave rot_channels and "
                             "root_channels at 0")

    @property
    def stride(self) -> int:
        return self.part.stride

    @property
    def batch_key(self) -> str:
        return BATCH_KEYS[self.frame]

    def part_config(self) -> PartVQVAEConfig:
        return replace(self.part, in_channels=3)


class RelativeTranslationVQVAE(nn.Module):
    """Tokens of the follower's pelvis relative to the leader's. Same contract as the part VQ-VAEs:
    ``encode(offset) -> indices``, ``decode(indices) -> offset``, ``forward(offset) -> (offset, indices, losses)``.

    Offsets are ``(B, T, 3)`` metres in the configured frame; scaling happens inside.
    """

    def __init__(self, config: TranslationConfig, sync_codebook: bool | None = None) -> None:
        super().__init__()
        self.config = config
        self.vqvae = PartVQVAE(config.part_config(), sync_codebook)

    @property
    def stride(self) -> int:
        return self.config.stride

    @property
    def codebook_size(self) -> int:
        return self.config.part.codebook_size

    def _check(self, offset: torch.Tensor) -> None:
        if offset.ndim != 3 or offset.shape[-1] != 3:
            raise ValueError(f"expected a (B, T, 3) offset, got {tuple(offset.shape)}")

    @torch.no_grad()
    def encode(self, offset: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3)`` metres -> ``(B, ceil(T / stride))`` int64 (the last frame repeated as padding)."""
        self._check(offset)
        return self.vqvae.encode(pad_to_multiple(offset, self.stride, dim=1) * self.config.scale)

    @torch.no_grad()
    def decode(self, indices: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """``(B, N)`` -> ``(B, N * stride, 3)`` metres (or the first ``num_frames``)."""
        offset = self.vqvae.decode(indices)["pos"] / self.config.scale
        return offset if num_frames is None else offset[:, :num_frames]

    def forward(self, offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``(B, T, 3)`` metres, ``T`` a multiple of the stride -> ``(offset (B, T, 3) metres, indices, losses)``.

        Losses (L1 position + velocity + acceleration + commitment, optional focal frequency) are
        computed on the scaled offset, as Duolando does.
        """
        self._check(offset)
        recon, indices, losses = self.vqvae(offset * self.config.scale)
        return recon["pos"] / self.config.scale, indices, losses


def follower_offset(leader_joints: torch.Tensor, follower_root: torch.Tensor, frame: TranslationFrame
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """What the translation VQ-VAE encodes for a whole duet: the follower's pelvis minus the leader's,
    ``(..., T, 3)``, in ``frame``, and the leader's heading ``(..., T)`` (what :func:`follower_root` needs
    to undo it). ``leader_joints`` ``(..., T, J, 3)`` absolute; ``follower_root`` ``(..., T, 3)``. The
    same vectors as the DuetDataModule's ``follower_root_rel_local`` / ``follower_root_rel``."""
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    heading = heading_angle(leader_joints - leader_joints[..., :1, :])  # (..., T)
    rel = follower_root - leader_joints[..., 0, :]
    return (to_heading_frame(rel, heading) if frame == "leader" else rel), heading


def follower_root(leader_root: torch.Tensor, offset: torch.Tensor, frame: TranslationFrame,
                  leader_heading: torch.Tensor | None = None) -> torch.Tensor:
    """The follower's pelvis ``(..., T, 3)`` from the leader's pelvis and a decoded offset.

    Args:
        leader_root: ``(..., T, 3)`` leader pelvis, world.
        offset: ``(..., T, 3)`` decoded offset, in ``frame``.
        frame: ``leader`` or ``world``.
        leader_heading: ``(..., T)`` leader yaw (``data.geometry.heading_angle``); needed for ``leader``.
    """
    if frame == "world":
        return leader_root + offset
    if frame != "leader":
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    if leader_heading is None:
        raise ValueError("the leader frame needs the leader's heading per frame")
    return leader_root + rotate_about_y(offset, leader_heading)


__all__ = ["TranslationConfig", "RelativeTranslationVQVAE", "follower_root", "follower_offset", "FRAMES", "BATCH_KEYS"]
