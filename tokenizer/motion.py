"""The part-wise motion tokenizer: one :class:`~tokenizer.vqvae.PartVQVAE` per body part, a root-velocity
head on the lower body's codes and a 6D rotation head on every part's codes.

Part sets (``data.skeleton``), both at 7.5 tokens per second:

=======  =========  =====  ======  ===================================================================
set      skeleton   fps    stride  parts
=======  =========  =====  ======  ===================================================================
solo     smpl24     60     8       upper (15 joints), lower (9, pelvis first)           Bailando
duet     smplx55    30     4       upper (16), lower (9), lhand (15), rhand (15)        Duolando
=======  =========  =====  ======  ===================================================================

What goes in and comes out (``B`` windows, ``T`` frames, ``J`` joints; dimension letters as in
``data.datamodules``):

* input ``joints`` ``(B, T, J, 3)`` pelvis-relative positions (the DataModules' ``joints``), world axes:
  the body's facing stays visible, so the lower body's codes can carry global orientation;
* the hands (duet) enter relative to their wrist and scaled by ``hand_scale`` (Duolando's x10: finger
  offsets are a few centimetres, and unscaled they would be lost under the body's errors);
* the root is not encoded (the pelvis slot is zero): its velocity is *decoded* from the lower
  body's codes, in metres per second (the per-frame velocity times fps), and integrated at decode
  time (Bailando's root branch). ``encode_root_velocity`` puts the velocity into the pelvis slot
  instead; on the quick corpus it did not reduce the root error, so it is off;
* rotations are decoded per part as 6D (first two matrix columns, Zhou et al. 2019) and returned as
  axis-angle through Gram-Schmidt (``data.fk``): SMPL pose parameters for export.

All heads train jointly in one stage (Bailando trains the root branch in a second step with the rest
frozen). One stage means one config, one checkpoint and exact resume; the root and rotation losses
reach the encoder through the codes, which is what we want: the lower-body codes must carry the
information the root decoder needs. The cost is that the codebook is shaped by three losses, not one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Literal, Mapping

import torch
from einops import rearrange
from torch import nn

from data.fk import from_rotmat, to_rotmat
from data.skeleton import PART_SETS as SKELETON_PART_SETS
from data.skeleton import get_skeleton, merge_parts
from data.geometry import integrate_root_velocity
from tokenizer.vqvae import PartVQVAE, PartVQVAEConfig
from training.config import coerce_config

PartSetName = Literal["solo", "duet"]


@dataclass(frozen=True)
class PartSet:
    """A skeleton, its frame rate and its split into parts."""

    name: str
    skeleton: str
    fps: float
    parts: dict[str, tuple[int, ...]]
    root_part: str
    """The part whose codes carry the root velocity (it holds the pelvis)."""
    hand_wrists: dict[str, int]
    """Hand part -> wrist joint its fingers are made relative to (empty: no hands)."""


def _part_set(name: str) -> PartSet:
    if name == "solo":
        return PartSet("solo", "smpl24", 60.0, dict(SKELETON_PART_SETS["solo"]), "lower", {})
    if name == "duet":
        sk = get_skeleton("smplx55")
        return PartSet("duet", "smplx55", 30.0, dict(SKELETON_PART_SETS["duet"]), "lower",
                       {"lhand": sk.index("left_wrist"), "rhand": sk.index("right_wrist")})
    raise ValueError(f"unknown part set {name!r}; use 'solo' (SMPL-24, 60 fps) or 'duet' (SMPL-X, 30 fps)")


PART_SET_NAMES = ("solo", "duet")


@dataclass
class MotionTokenizerConfig:
    """A part set and the VQ-VAE sizes every part of it shares."""

    part_set: PartSetName = "solo"
    """``solo`` (SMPL-24 at 60 fps: upper, lower) or ``duet`` (SMPL-X at 30 fps: upper, lower, lhand, rhand)."""
    part: PartVQVAEConfig = field(default_factory=PartVQVAEConfig)
    """Sizes, quantiser settings and loss weights shared by every part (channels derived per part).
    Use ``levels: 3`` (stride 8) for solo and ``levels: 2`` (stride 4) for duet: 7.5 tokens/s."""
    rotations: bool = True
    """Decode 6D joint rotations (SMPL parameters for export) from every part's codes."""
    root: bool = True
    """Decode the root velocity from the lower body's codes (else the root stays at its start)."""
    hand_scale: float = 10.0
    """Duet: finger positions enter relative to their wrist, times this (Duolando: 10)."""
    encode_root_velocity: bool = False
    """Feed the root velocity (m/s) to the lower body's encoder in the pelvis slot, which is otherwise
    always zero. Off (Bailando, Duolando): the codes see pose only and the root head must infer the
    trajectory from the legs. On: the lower-body codes carry the trajectory explicitly (less drift);
    encoding then needs the root velocity, i.e. absolute motion."""

    def __post_init__(self) -> None:
        if self.part_set not in PART_SET_NAMES:
            raise ValueError(f"part_set must be one of {PART_SET_NAMES}, got {self.part_set!r}")
        self.part = coerce_config(PartVQVAEConfig, self.part)
        for name in ("rotations", "root", "encode_root_velocity"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if isinstance(self.hand_scale, bool) or not (isinstance(self.hand_scale, (int, float)) and self.hand_scale > 0):
            raise ValueError(f"hand_scale must be a positive number, got {self.hand_scale!r}")

    @property
    def spec(self) -> PartSet:
        return _part_set(self.part_set)

    @property
    def stride(self) -> int:
        return self.part.stride

    @property
    def fps(self) -> float:
        return self.spec.fps

    @property
    def token_rate(self) -> float:
        """Tokens per second per part."""
        return self.fps / self.stride

    def part_configs(self) -> dict[str, PartVQVAEConfig]:
        """Each part's :class:`PartVQVAEConfig` with its channel counts filled in."""
        spec = self.spec
        return {name: replace(self.part, in_channels=3 * len(joints),
                              rot_channels=6 * len(joints) if self.rotations else 0,
                              root_channels=3 if (self.root and name == spec.root_part) else 0)
                for name, joints in spec.parts.items()}


def pad_to_multiple(x: torch.Tensor, multiple: int, dim: int = 1) -> torch.Tensor:
    """Pad ``x`` along ``dim`` by repeating its last frame up to a multiple of ``multiple``."""
    extra = (-x.shape[dim]) % multiple
    if extra == 0:
        return x
    last = x.narrow(dim, x.shape[dim] - 1, 1)
    return torch.cat([x, last.expand(*[extra if d == dim % x.ndim else s for d, s in enumerate(last.shape)])], dim=dim)


class MotionTokenizer(nn.Module):
    """One VQ-VAE per part, composed. Contract: :meth:`encode`, :meth:`decode`, :meth:`forward`.

    Args:
        config: the part set and the shared part sizes.
        sync_codebook: see :class:`~tokenizer.vqvae.PartVQVAE` (``None``: the library decides now).
    """

    def __init__(self, config: MotionTokenizerConfig, sync_codebook: bool | None = None) -> None:
        super().__init__()
        self.config = config
        self.spec = config.spec
        self.skeleton = get_skeleton(self.spec.skeleton)
        self.parts = nn.ModuleDict({name: PartVQVAE(cfg, sync_codebook)
                                    for name, cfg in config.part_configs().items()})

    # -- facts ---------------------------------------------------------------------------------------
    @property
    def part_names(self) -> list[str]:
        return list(self.parts.keys())

    @property
    def stride(self) -> int:
        return self.config.stride

    @property
    def fps(self) -> float:
        return self.config.fps

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def codebook_size(self) -> int:
        return self.config.part.codebook_size

    # -- layout --------------------------------------------------------------------------------------
    def _check_joints(self, joints: torch.Tensor) -> None:
        if joints.ndim != 4 or joints.shape[-2:] != (self.num_joints, 3):
            raise ValueError(f"expected joints (B, T, {self.num_joints}, 3) for {self.spec.skeleton}, "
                             f"got {tuple(joints.shape)}")

    def split(self, joints: torch.Tensor, root_vel: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Pelvis-relative ``(B, T, J, 3)`` -> ``{part: (B, T, 3 J_part)}`` encoder inputs.

        With ``encode_root_velocity``, ``root_vel`` ``(B, T, 3)`` (metres per frame) goes into the
        pelvis slot of the root part, in metres per second.
        """
        self._check_joints(joints)
        if self.config.encode_root_velocity:
            if root_vel is None:
                raise ValueError("this tokenizer encodes the root velocity (encode_root_velocity: true): pass "
                                 "root_vel (B, T, 3), or absolute joints to tokenizer.pretrained.Tokenizer")
            joints = joints.clone()
            joints[..., 0, :] = root_vel * self.fps
        out = {}
        for name, idx in self.spec.parts.items():
            x = joints[..., list(idx), :]  # (B, T, J_part, 3)
            if name in self.spec.hand_wrists:
                wrist = joints[..., self.spec.hand_wrists[name], :]  # (B, T, 3)
                x = (x - wrist[..., None, :]) * self.config.hand_scale
            out[name] = rearrange(x, "b t j c -> b t (j c)")
        return out

    def merge(self, pos: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Inverse of :meth:`split`: ``{part: (B, T, 3 J_part)}`` -> pelvis-relative ``(B, T, J, 3)``."""
        pieces = {name: rearrange(x, "b t (j c) -> b t j c", c=3) for name, x in pos.items()}
        joints = merge_parts(pieces, self.spec.parts, self.num_joints)
        if self.spec.hand_wrists:
            # Fingers are wrist-relative and scaled: add the (decoded) wrist of the upper body back.
            joints = joints.clone()
            for name, wrist in self.spec.hand_wrists.items():
                idx = list(self.spec.parts[name])
                joints[..., idx, :] = joints[..., idx, :] / self.config.hand_scale + joints[..., wrist, None, :]
        return joints

    def split_rotations(self, rotations: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, T, J, 6)`` -> ``{part: (B, T, 6 J_part)}``."""
        return {name: rearrange(rotations[..., list(idx), :], "b t j c -> b t (j c)")
                for name, idx in self.spec.parts.items()}

    def merge_rotations(self, rot: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``{part: (B, T, 6 J_part)}`` -> ``(B, T, J, 6)``."""
        pieces = {name: rearrange(x, "b t (j c) -> b t j c", c=6) for name, x in rot.items()}
        return merge_parts(pieces, self.spec.parts, self.num_joints)

    # -- contract ------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, joints: torch.Tensor, root_vel: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Pelvis-relative joints ``(B, T, J, 3)`` -> ``{part: (B, ceil(T / stride))}`` int64.

        ``T`` need not be a multiple of the stride: the last frame is repeated up to one.
        ``root_vel`` ``(B, T, 3)`` is needed (and used) only with ``encode_root_velocity``.
        """
        self._check_joints(joints)
        joints = pad_to_multiple(joints, self.stride, dim=1)
        if root_vel is not None:
            root_vel = pad_to_multiple(root_vel, self.stride, dim=1)
        return {name: self.parts[name].encode(x) for name, x in self.split(joints, root_vel).items()}

    @torch.no_grad()
    def decode(self, indices: Mapping[str, torch.Tensor], root_start: torch.Tensor | None = None,
               num_frames: int | None = None, chunk: int | None = None) -> dict[str, torch.Tensor]:
        """Indices ``{part: (B, N)}`` -> motion of ``N * stride`` frames (or the first ``num_frames``).

        Args:
            indices: one entry per part, equal shapes.
            root_start: ``(B, 3)`` pelvis position of the first frame; zeros by default (Bailando).
            num_frames: crop to this many frames (undo :meth:`encode`'s padding).
            chunk: decode this many tokens at a time (:meth:`decode_chunks`): the same frames, with
                activation memory bounded by the chunk.

        Returns:
            ``joints`` (B, T, J, 3) absolute; ``joints_rel`` pelvis-relative; ``root`` (B, T, 3) the
            pelvis; ``root_vel`` (B, T, 3) metres per frame; with rotation heads ``rotations``
            (B, T, J, 3) axis-angle (local, SMPL order) and ``rotations_6d`` (B, T, J, 6) as decoded.
        """
        pieces = list(self.decode_chunks(indices, root_start, num_frames, chunk))
        if len(pieces) == 1:
            return pieces[0]
        return {key: torch.cat([p[key] for p in pieces], dim=1) for key in pieces[0]}

    @torch.no_grad()
    def decode_chunks(self, indices: Mapping[str, torch.Tensor], root_start: torch.Tensor | None = None,
                      num_frames: int | None = None, chunk: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """:meth:`decode`'s output as consecutive pieces of ``chunk`` tokens' frames (one piece when
        ``chunk`` is None or covers the sequence), for consumers that write a long motion out as it
        comes. Each part decodes its span with :attr:`~tokenizer.vqvae.PartVQVAE.decoder_reach`
        tokens of context, so the frames are the whole sequence's; the pelvis is carried from one
        piece's last frame (plus its velocity) to the next piece's first."""
        missing = set(self.part_names) - set(indices)
        if missing:
            raise ValueError(f"indices lack part(s) {sorted(missing)}; the tokenizer has {self.part_names}")
        N = next(iter(indices.values())).shape[-1]
        if chunk is not None and chunk < 1:
            raise ValueError(f"chunk must be a positive number of tokens, got {chunk}")
        if chunk is None or N <= chunk:
            recon = {name: self.parts[name].decode(indices[name]) for name in self.part_names}
            yield self.assemble(recon, root_start, num_frames)
            return
        T = N * self.stride if num_frames is None else min(num_frames, N * self.stride)
        for start in range(0, N, chunk):
            stop = min(N, start + chunk)
            frames = min(T, stop * self.stride) - start * self.stride
            if frames <= 0:
                break
            recon = {name: self.parts[name].decode_span(indices[name], start, stop) for name in self.part_names}
            piece = self.assemble(recon, root_start, frames)
            root_start = piece["root"][:, -1].double() + piece["root_vel"][:, -1].double()
            yield piece

    def assemble(self, recon: Mapping[str, Mapping[str, torch.Tensor]], root_start: torch.Tensor | None = None,
                 num_frames: int | None = None, axis_angle: bool = True) -> dict[str, torch.Tensor]:
        """Per-part head outputs -> the motion dict :meth:`decode` returns (``axis_angle=False`` skips
        the Gram-Schmidt / axis-angle conversion, which training does not need)."""
        joints_rel = self.merge({name: r["pos"] for name, r in recon.items()})  # (B, T, J, 3)
        # The pelvis slot is zero by definition (its input channels always are); the decoder's output
        # there is a small error, and the pelvis position is the integrated root alone.
        joints_rel = torch.cat([torch.zeros_like(joints_rel[..., :1, :]), joints_rel[..., 1:, :]], dim=-2)
        if num_frames is not None:
            joints_rel = joints_rel[:, :num_frames]
        B, T = joints_rel.shape[:2]
        root_part = recon[self.spec.root_part]
        if "root" in root_part:
            root_vel = root_part["root"][:, :T] / self.fps  # m/s -> metres per frame
        else:
            root_vel = joints_rel.new_zeros(B, T, 3)
        if root_start is None:
            root_start = joints_rel.new_zeros(B, 3)
        root = integrate_root_velocity(root_vel, root_start.to(joints_rel))  # (B, T, 3)
        out = {"joints": joints_rel + root[..., None, :], "joints_rel": joints_rel, "root": root, "root_vel": root_vel}
        if all("rot" in r for r in recon.values()):
            six = self.merge_rotations({name: r["rot"] for name, r in recon.items()})[:, :T]  # (B, T, J, 6)
            out["rotations_6d"] = six
            if axis_angle:
                out["rotations"] = from_rotmat(to_rotmat(six, "6d"), "axis_angle")  # (B, T, J, 3)
        return out

    def forward(self, joints: torch.Tensor, rotations: torch.Tensor | None = None,
                root_vel: torch.Tensor | None = None
                ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Autoencode a batch of windows and compute every loss.

        Args:
            joints: ``(B, T, J, 3)`` pelvis-relative, ``T`` a multiple of the stride.
            rotations: ``(B, T, J, 6)`` 6D targets of the rotation heads (no rotation loss if ``None``).
            root_vel: ``(B, T, 3)`` metres-per-frame targets of the root head (no root loss if ``None``).

        Returns:
            ``(reconstruction, indices, losses)``: the reconstruction is :meth:`assemble`'s dict (root
            integrated from zero, rotations as 6D only); ``indices`` ``{part: (B, T/s)}``;
            ``losses`` ``{"<part>/<head>/<term>": (), "<part>/commit": (), "<part>/loss": (),
            "loss": ()}``, the total summed over parts (Duolando sums, Bailando averages two).
        """
        self._check_joints(joints)
        if joints.shape[1] % self.stride:
            raise ValueError(f"training windows must be a multiple of the stride {self.stride}, got T = {joints.shape[1]}")
        if self.config.encode_root_velocity and root_vel is None:
            raise ValueError("encode_root_velocity needs root_vel")
        inputs = self.split(joints, root_vel)
        rot_targets = self.split_rotations(rotations) if rotations is not None else {}
        recon, indices, losses = {}, {}, {}
        total = joints.new_zeros(())
        for name, part in self.parts.items():
            targets = {}
            if name in rot_targets and part.config.rot_channels:
                targets["rot"] = rot_targets[name]
            if root_vel is not None and part.config.root_channels:
                targets["root"] = root_vel * self.fps  # the head works in metres per second
            recon[name], indices[name], part_losses = part(inputs[name], targets)
            losses.update({f"{name}/{k}": v for k, v in part_losses.items()})
            total = total + part_losses["loss"]
        losses["loss"] = total
        return self.assemble(recon, axis_angle=False), indices, losses


__all__ = ["PartSet", "PART_SET_NAMES", "MotionTokenizerConfig", "MotionTokenizer", "pad_to_multiple"]
