"""Trained tokenizers for generation and evaluation, loaded from a checkpoint without Lightning.

A checkpoint written by :class:`tokenizer.lightning.TokenizerStage` (or ``TranslationStage``) holds
the config as plain dicts (``hyper_parameters``) and the weights plus codebook buffers
(``state_dict``); :func:`torch.load` reads it with ``weights_only=True`` (no code runs from the file).
Later stages take their shapes from here (parts, codebook size, stride, fps), never from their own
YAML::

    tok = Tokenizer.from_checkpoint("runs/solo_tokenizer/checkpoints/last.ckpt")
    idx = tok.encode(motion)              # {part: (N,)} int64, N = ceil(T / stride)
    out = tok.decode(idx)                 # joints (T, J, 3), rotations (T, J, 3) axis-angle, root (T, 3)
    rec = tok.reconstruct(motion)         # a data.motion.Motion, same start and length as the input

Every ``from_checkpoint`` returns a new module (moving one to a GPU or into training mode changes
no other caller's); the file is read once per (path, size, modification time)
(:func:`training.checkpoint.stage_state`).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from data.errors import InputError
from data.geometry import root_velocity
from data.motion import Motion
from data.skeleton import get_skeleton
from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig
from tokenizer.translation import RelativeTranslationVQVAE, TranslationConfig
from training.checkpoint import stage_state
from training.config import coerce_config


DECODE_CHUNK = 256
"""Tokens :meth:`Tokenizer.decode` decodes at a time (2048 frames at stride 8): a 10-minute dance
needs the activations of a chunk, not of the whole song."""


def _load(cls: type, path: str | os.PathLike, cache: bool, kind: str, stage: str) -> nn.Module:
    """A new ``cls`` (eval mode) built from the config and weights a ``stage`` checkpoint holds under ``kind``."""
    config, state = stage_state(path, kind, f"tokenizer.lightning.{stage}", cache=cache)
    module = cls(dict(config))
    module.model.load_state_dict(state, strict=True)
    return module.eval()


def _to_tensor(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=torch.float32)


def _batched_tokens(indices: Mapping[str, Any], root_start: Any) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """``{part: (N,) or (B, N)}`` indices and a ``(3,)`` or ``(B, 3)`` start as ``(B, N)`` int64 and
    ``(B, 3)`` float32 (a batch of one for unbatched input)."""
    idx = {k: torch.as_tensor(v).long() for k, v in indices.items()}
    idx = {k: v.reshape(1, -1) if v.ndim == 1 else v for k, v in idx.items()}
    device = next(iter(idx.values())).device
    start = None if root_start is None else _to_tensor(root_start).float().reshape(-1, 3).to(device)
    return idx, start


class Tokenizer(nn.Module):
    """The part-wise motion tokenizer for inference: :meth:`encode` motions, :meth:`decode` tokens.

    Args:
        config: the tokenizer config (from the checkpoint's hyper-parameters).
    """

    def __init__(self, config: MotionTokenizerConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = coerce_config(MotionTokenizerConfig, config)
        # Inference never all-reduces: a codebook that syncs would need a process group.
        self.model = MotionTokenizer(self.config, sync_codebook=False)
        self.eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, cache: bool = True) -> "Tokenizer":
        """Rebuild the tokenizer a ``TokenizerStage`` checkpoint was trained as, weights and codebooks."""
        return _load(cls, path, cache, "tokenizer", "TokenizerStage")  # type: ignore[return-value]

    @classmethod
    def wrap(cls, model: MotionTokenizer) -> "Tokenizer":
        """This API over an existing module (a training stage's, for its previews), sharing its weights;
        the module's train / eval mode is left as it is."""
        tok = cls.__new__(cls)
        nn.Module.__init__(tok)
        tok.config, tok.model = model.config, model
        return tok

    # -- facts ---------------------------------------------------------------------------------------
    @property
    def parts(self) -> list[str]:
        return self.model.part_names

    @property
    def stride(self) -> int:
        return self.model.stride

    @property
    def fps(self) -> float:
        return self.model.fps

    @property
    def skeleton(self) -> str:
        return self.model.spec.skeleton

    @property
    def codebook_size(self) -> int:
        return self.model.codebook_size

    @property
    def device(self) -> torch.device:
        """Where the weights are: what :meth:`encode` moves its input to."""
        return next(self.model.parameters()).device

    # -- contract ------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, motion: Motion | torch.Tensor | np.ndarray,
               root_vel: torch.Tensor | np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Token indices per part.

        Args:
            motion: a :class:`Motion` on the tokenizer's skeleton, or joints ``(T, J, 3)`` /
                ``(B, T, J, 3)``: absolute, or pelvis-relative with ``root_vel`` (the pelvis is
                subtracted either way).
            root_vel: ``(T, 3)`` / ``(B, T, 3)`` metres per frame; default: from the joints' pelvis
                (``v_t = p_{t+1} - p_t``). Only a tokenizer trained with ``encode_root_velocity`` reads it.

        Returns:
            ``{part: (N,)}`` for one motion, ``{part: (B, N)}`` for a batch; int64, ``N = ceil(T / stride)``.
        """
        joints, batched = self._joints(motion)
        if root_vel is None:
            root_vel = root_velocity(joints[..., 0, :])
        else:
            root_vel = _to_tensor(root_vel).float().reshape(joints.shape[0], joints.shape[1], 3).to(joints.device)
        idx = self.model.encode(joints - joints[..., :1, :], root_vel)  # pelvis-relative, pelvis slot exactly 0
        return {k: v if batched else v[0] for k, v in idx.items()}

    @torch.no_grad()
    def decode(self, indices: Mapping[str, torch.Tensor], root_start: torch.Tensor | np.ndarray | None = None,
               num_frames: int | None = None, chunk: int | None = DECODE_CHUNK) -> dict[str, torch.Tensor]:
        """Motion from token indices (see :meth:`MotionTokenizer.decode`): ``joints`` absolute,
        ``rotations`` axis-angle, ``root`` the pelvis; unbatched when the indices are ``(N,)``.
        Long sequences are decoded ``chunk`` tokens at a time (same frames, bounded memory)."""
        batched = next(iter(indices.values())).ndim == 2
        idx, start = _batched_tokens(indices, root_start)
        out = self.model.decode(idx, start, num_frames, chunk)
        return out if batched else {k: v[0] for k, v in out.items()}

    def forward(self, motion: Motion | torch.Tensor | np.ndarray):
        """``(decode(encode(motion)), indices, {})``: the uniform contract, for inference."""
        indices = self.encode(motion)
        return self.decode(indices), indices, {}

    @torch.no_grad()
    def reconstruct(self, motion: Motion) -> Motion:
        """Encode and decode one motion: same length, same start position, joints from the position
        decoders, SMPL rotations and translation from the rotation and root decoders."""
        if not isinstance(motion, Motion):
            raise TypeError(f"reconstruct takes a data.motion.Motion, got {type(motion).__name__}")
        out = self.decode(self.encode(motion), root_start=motion.joints[0, 0], num_frames=motion.num_frames)
        return self.to_motion(out, name=f"{motion.name} (tokenized)" if motion.name else "tokenized",
                              music=motion.music)

    def to_motion(self, decoded: Mapping[str, torch.Tensor], name: str = "", music: str = "") -> Motion:
        """One decoded motion (unbatched :meth:`decode` output) as a :class:`Motion`.

        SMPL's translation is the pelvis minus the skeleton's rest pelvis (``Motion.root``).
        """
        joints, rotations, root = self._motion_arrays(decoded)
        return Motion(skeleton=self.skeleton, fps=self.fps, joints=joints, rotations=rotations, root=root,
                      name=name, music=music)

    @torch.no_grad()
    def decode_motion(self, indices: Mapping[str, torch.Tensor], root_start: torch.Tensor | np.ndarray | None = None,
                      num_frames: int | None = None, name: str = "", music: str = "",
                      chunk: int = DECODE_CHUNK) -> Motion:
        """One motion from ``{part: (N,)}`` tokens: ``to_motion(decode(...))``, but decoded a chunk at a
        time straight into the motion's float64 arrays, so a long dance holds one copy of itself
        and one chunk's activations, not every intermediate of the whole song."""
        idx, start = _batched_tokens(indices, root_start)
        N = next(iter(idx.values())).shape[1]
        T = N * self.stride if num_frames is None else min(num_frames, N * self.stride)
        J = get_skeleton(self.skeleton).num_joints
        joints = np.empty((T, J, 3))
        rotations = np.empty((T, J, 3)) if self.config.rotations else None
        root = np.empty((T, 3)) if self.config.rotations else None
        at = 0
        for piece in self.model.decode_chunks(idx, start, num_frames, chunk):
            j, r, t = self._motion_arrays({k: v[0].cpu() for k, v in piece.items()})
            n = j.shape[0]
            joints[at:at + n] = j
            if rotations is not None:
                rotations[at:at + n], root[at:at + n] = r, t
            at += n
        return Motion(skeleton=self.skeleton, fps=self.fps, joints=joints, rotations=rotations, root=root,
                      name=name, music=music)

    def _motion_arrays(self, decoded: Mapping[str, torch.Tensor]
                       ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Unbatched decoder output -> float64 ``(joints, rotations, root)`` of a :class:`Motion`."""
        arrays = {k: v.detach().cpu().double().numpy() for k, v in decoded.items()}
        joints = arrays["joints"]
        if "rotations" not in arrays:
            return joints, None, None
        root = arrays["root"] - get_skeleton(self.skeleton).root_rest
        return joints, arrays["rotations"], root

    def _joints(self, motion: Motion | torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool]:
        if isinstance(motion, Motion):
            if motion.skeleton != self.skeleton:
                raise InputError(motion.name or None, f"motion is on skeleton {motion.skeleton}, the tokenizer "
                                                      f"on {self.skeleton}", "use the tokenizer trained for it")
            if abs(motion.fps - self.fps) > 1e-6:
                raise InputError(motion.name or None, f"motion is {motion.fps:g} fps, the tokenizer {self.fps:g}",
                                 "resample the motion")
            x = torch.as_tensor(motion.joints, dtype=torch.float32)
        else:
            x = _to_tensor(motion).float()
        x = x.to(self.device)
        batched = x.ndim == 4
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4:
            raise ValueError(f"expected joints (T, J, 3) or (B, T, J, 3), got {tuple(x.shape)}")
        return x, batched


class TranslationTokenizer(nn.Module):
    """The relative-translation VQ-VAE for inference (``encode(offset) -> (N,)``, ``decode(indices) ->
    (T, 3)`` metres in the trained frame; see :func:`tokenizer.translation.follower_root`)."""

    def __init__(self, config: TranslationConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = coerce_config(TranslationConfig, config)
        self.model = RelativeTranslationVQVAE(self.config, sync_codebook=False)
        self.eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, cache: bool = True) -> "TranslationTokenizer":
        """Rebuild the translation VQ-VAE a ``TranslationStage`` checkpoint was trained as."""
        return _load(cls, path, cache, "translation", "TranslationStage")  # type: ignore[return-value]

    @property
    def frame(self) -> str:
        return self.config.frame

    @property
    def stride(self) -> int:
        return self.model.stride

    @torch.no_grad()
    def encode(self, offset: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``(T, 3)`` or ``(B, T, 3)`` metres -> ``(N,)`` or ``(B, N)``."""
        x = _to_tensor(offset).float()
        return self.model.encode(x[None])[0] if x.ndim == 2 else self.model.encode(x)

    @torch.no_grad()
    def decode(self, indices: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        idx = torch.as_tensor(indices).long()
        return self.model.decode(idx[None], num_frames)[0] if idx.ndim == 1 else self.model.decode(idx, num_frames)


__all__ = ["Tokenizer", "TranslationTokenizer"]
