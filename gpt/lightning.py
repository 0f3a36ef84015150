"""Training stages of the solo GPT.

:class:`SoloGPTStage` trains :class:`gpt.solo.SoloGPT` on dance windows: each window is tokenized by the
frozen tokenizer (read from its checkpoint, which also says the parts, codebook size, stride and fps;
nothing of it is declared again in the GPT's YAML), every step's music is read from the window's
frames (plus the look-ahead margin the data module gives), and the loss is the per-part
cross-entropy of the next tokens. The checkpoint carries the tokenizer too (its config and weights),
so ``cli.py dance`` needs the GPT's file alone.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any, Literal, Mapping

import numpy as np
import torch
from torch.nn import functional as F
from lightning.pytorch.utilities import rank_zero_info

from data.datasets.aistpp import try_parse_sequence_name
from data.music import get_feature_set
from gpt.pretrained import DEFAULT_ROOT_START, SoloDancer, dance_hparams
from gpt.sampling import SamplingConfig
from gpt.solo import SoloGPT, SoloGPTConfig, shift_right, token_loss
from tokenizer.pretrained import Tokenizer
from training.config import coerce_config
from training.optim import OptimizerConfig
from training.previews import BeatPlot, Preview, beat_frames, clip_frames, evaluating, song_path, validation_sequences
from training.stage import Stage, StageName

PREVIEW_SAMPLING = SamplingConfig(temperature=1.0, top_p=0.95)
"""How preview dances are sampled: ``cli.py dance``'s defaults."""
PREVIEW_SEED = 0
"""The preview's sampling seed: every validation's preview draws the same noise, so they compare."""


def tokenizer_facts(tokenizer: Tokenizer) -> dict[str, Any]:
    """What a GPT takes from its tokenizer: parts, codebook size and stride (in motion frames)."""
    return {"parts": tuple(tokenizer.parts), "codebook_size": tokenizer.codebook_size,
            "frames_per_token": tokenizer.stride}


def genre_of(name: str) -> str | None:
    """The AIST++ genre code of a sequence name (``gBR_sBM_...`` -> ``BR``), None when it has none."""
    info = try_parse_sequence_name(name)
    return None if info is None else info.genre


class SoloGPTStage(Stage):
    """Trains the solo GPT over a frozen tokenizer (the interaction GPT's stage,
    :class:`duet.lightning.DuetGPTStage`, is this one with a leader and a translation stream).

    Args:
        tokenizer: path of the solo tokenizer checkpoint (``TokenizerStage``).
        gpt: the GPT's own settings (transformer sizes, music context, genres, genre dropout); the
            tokenizer's facts (parts, codebook size, stride) are filled in from the checkpoint.
        feature_set: the music feature set; default: the data module's (it must be the same).
        tokens_from: ``sequence``: every sequence of the data module is tokenized once, whole, and a
            window's tokens are cut from it (what generation decodes: whole dances; and no encoder in
            the training step), except windows the data module's tempo augmentation stretched, which
            are encoded in the step; ``window``: each window is encoded on its own in the step
            (Bailando; needs no data module, e.g. a plain DataLoader).
        optimizer: optimiser and schedule.
    """

    def __init__(self, tokenizer: str, gpt: SoloGPTConfig | dict | None = None, feature_set: str | None = None,
                 tokens_from: Literal["sequence", "window"] = "sequence",
                 optimizer: OptimizerConfig | dict | None = None) -> None:
        super().__init__(optimizer)
        self._init_gpt(tokenizer, gpt, feature_set, tokens_from)
        self._save()

    config_class = SoloGPTConfig
    model_class = SoloGPT

    def _init_gpt(self, tokenizer: str, gpt, feature_set: str | None, tokens_from: str) -> None:
        if tokens_from not in ("sequence", "window"):
            raise ValueError(f"tokens_from must be 'sequence' or 'window', got {tokens_from!r}")
        self.tokens_from = tokens_from
        self._sequence_tokens: dict[str, dict[str, torch.Tensor]] = {}
        self.config = coerce_config(self.config_class, gpt)
        self.feature_set = feature_set
        if feature_set is not None:
            self.config = replace(self.config, music_dim=get_feature_set(feature_set).dim)
        self.tokenizer_path = str(tokenizer)
        self.root_start: list[float] | None = None  # where dances start: the training dances' mean
        # Both built in configure_model: the tokenizer file is read when training starts (a config
        # parses and instantiates without it), the GPT once the data's feature set is known.
        self.tokenizer: Tokenizer | None = None
        self.gpt: SoloGPT | None = None

    def _save(self) -> None:
        self.save_hyperparameters({"tokenizer": self.tokenizer_path, "tokens_from": self.tokens_from,
                                   "optimizer": asdict(self.optim_config),
                                   **dance_hparams(self.config, self.tokenizer, self.feature_set, self.root_start)})

    # -- building ------------------------------------------------------------------------------------
    def load_tokenizer(self) -> Tokenizer:
        """Read the frozen tokenizer and take its facts (parts, codebook size, stride) into the config."""
        if self.tokenizer is None:
            tok = Tokenizer.from_checkpoint(self.tokenizer_path)
            for p in tok.parameters():
                p.requires_grad_(False)
            self.tokenizer = tok
            self.config = replace(self.config, **tokenizer_facts(tok))
        return self.tokenizer

    def configure_model(self) -> None:
        if self.gpt is not None:
            return
        self.load_tokenizer()
        dm = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None and hasattr(dm, "music"):
            data_set = dm.music.feature_set
            if self.feature_set is not None and self.feature_set != data_set:
                raise ValueError(f"model feature_set {self.feature_set!r} differs from the data module's "
                                 f"{data_set!r}: set one of them to the other")
            if float(dm.fps) != float(self.tokenizer.fps):
                raise ValueError(f"the data is at {dm.fps} fps, the tokenizer at {self.tokenizer.fps}")
            need = self.config.music_margin
            if dm.window.music_margin < need:
                raise ValueError(f"music_context {self.config.music_context} (with the music encoder's reach "
                                 f"{self.config.music_reach}) needs data.music_margin >= {need} frames (it is "
                                 f"{dm.window.music_margin}): set data.init_args.music_margin: {need}")
            self.feature_set = data_set
            self.config = replace(self.config, music_dim=get_feature_set(data_set).dim)
        self.gpt = self.model_class(self.config)
        if dm is not None and hasattr(dm, "sequences"):
            train = dm.sequences(dm.splits["train"])
            self.gpt.set_music_stats(*music_stats(train))
            self.root_start = self._start_position(train)
        self._save()  # the facts learnt above go into the checkpoint
        if self.tokens_from == "sequence":
            if dm is None or not hasattr(dm, "sequences"):
                raise ValueError("tokens_from 'sequence' needs a pasdeux data module (SoloDataModule); "
                                 "with a plain DataLoader use tokens_from: window")
            self._tokenize_sequences(dm)

    def _start_position(self, train) -> list[float] | None:
        """Where generated dances start: the training dances' mean first pelvis position."""
        return np.mean([s.dancer.joints[0, 0] for s in train], axis=0).round(4).tolist()

    @torch.no_grad()
    def _tokenize_sequences(self, dm) -> None:
        """Tokens of every sequence of every split the data module serves, each encoded whole."""
        for split in dict.fromkeys(dm.splits.values()):
            for seq in dm.sequences(split):
                if seq.name not in self._sequence_tokens:
                    joints = torch.as_tensor(seq.dancer.joints, dtype=torch.float32)  # (T, J, 3)
                    self._sequence_tokens[seq.name] = self.tokenizer.encode(joints)
        rank_zero_info(f"tokenized {len(self._sequence_tokens)} sequences whole")

    def window_tokens(self, names, starts, num_tokens: int, device: torch.device) -> dict[str, torch.Tensor]:
        """``{part: (B, N)}`` the tokens of each window, cut from its sequence's whole tokens."""
        return cut_tokens([self._sequence_tokens[n] for n in names], self.token_starts(names, starts), num_tokens,
                          device=device)

    def token_starts(self, names, starts) -> list[int]:
        """Each window's first token (its start frame over the stride; an error off the token grid)."""
        f = self.config.frames_per_token
        out = []
        for name, start in zip(names, starts.tolist() if torch.is_tensor(starts) else starts):
            if start % f:
                raise ValueError(f"window start {start} of {name!r} is not a multiple of the token stride {f}: "
                                 "set the data module's stride and eval_stride to multiples of it")
            out.append(start // f)
        return out

    def train(self, mode: bool = True):
        super().train(mode)
        if self.tokenizer is not None:
            self.tokenizer.eval()  # frozen: no dropout, no codebook updates
        return self

    # -- the step ------------------------------------------------------------------------------------
    def genre_ids(self, names, batch: int, device: torch.device) -> torch.Tensor:
        """``(B,)`` genre indices of the batch's sequences (0 = none, also for a genre the model lacks)."""
        genres = self.config.genres
        if not genres or names is None:
            return torch.zeros(batch, dtype=torch.long, device=device)
        ids = [self.config.genre_index(g) if (g := genre_of(n)) in genres else 0 for n in names]
        return torch.tensor(ids, dtype=torch.long, device=device)

    def shared_step(self, batch: Mapping[str, Any], stage: StageName) -> torch.Tensor:
        joints, root_vel, music = batch["joints"], batch["root_vel"], batch["music"]  # (B, T, J, 3), (B, T, 3), (B, T + 2m, F)
        B, T = joints.shape[:2]
        N = T // self.config.frames_per_token
        tempo = batch.get("tempo")
        stretched = tempo is not None and bool((torch.as_tensor(tempo) != 1.0).any())
        if self.tokens_from == "sequence" and not stretched:  # (a tempo-stretched window is not in the table)
            tokens = self.window_tokens(batch["name"], batch["start"], N, joints.device)  # {part: (B, N)}
        else:
            with torch.no_grad():
                tokens = self.tokenizer.encode(joints, root_vel)  # {part: (B, N)}
        margin = (music.shape[1] - T) // 2
        music_tokens = self.gpt.music_tokens(music, num_tokens=N, margin=margin)  # (B, N, C)
        genre = self.genre_ids(batch.get("name"), B, joints.device)
        if self.training and self.config.genre_dropout > 0:
            genre = genre.masked_fill(torch.rand(B, device=genre.device) < self.config.genre_dropout, 0)
        logits = self.gpt(music_tokens, shift_right(tokens, self.gpt.start_token), genre[:, None].expand(B, N))
        return self.log_losses(token_loss(logits, tokens), stage, B)

    # -- previews ------------------------------------------------------------------------------------
    def preview(self, seconds: float, count: int = 1) -> list[Preview]:
        """For :class:`training.previews.Previews`: a dance generated as ``cli.py dance`` generates one
        (:meth:`gpt.pretrained.SoloDancer.dance`) for the first ``seconds`` of each of the first ``count``
        validation songs (with the sequence's genre when the model knows it), and its beat plot against
        the song's beats (the feature set's beat channel)."""
        return solo_previews(self.trainer, self, self.gpt, self.tokenizer, self.feature_set, self.root_start,
                             seconds, count)

    def log_losses(self, out: Mapping[str, torch.Tensor], stage: StageName, batch: int) -> torch.Tensor:
        """Log :func:`gpt.solo.token_loss`'s terms under ``stage`` (synced across ranks outside training)
        and return the total."""
        sync = stage != "train"
        self.log(f"{stage}/loss", out["loss"], prog_bar=True, batch_size=batch, sync_dist=sync)
        self.log_dict({f"{stage}/{k}": v.detach() for k, v in out.items() if k != "loss"}, batch_size=batch,
                      sync_dist=sync)
        return out["loss"]


def solo_previews(trainer, stage: torch.nn.Module, gpt: SoloGPT, tokenizer: Tokenizer, feature_set: str | None,
                  root_start, seconds: float, count: int = 1) -> list[Preview]:
    """What :meth:`SoloGPTStage.preview` shows, for any stage that trains a solo GPT (``stage``: the
    module put in eval mode meanwhile, its modes restored after)."""
    channel = get_feature_set(feature_set).beat_channel if feature_set else None
    out = []
    with evaluating(stage):
        dancer = SoloDancer(gpt, tokenizer, feature_set or "", root_start or DEFAULT_ROOT_START)  # (sets eval)
        for seq in validation_sequences(trainer, count):
            n = clip_frames(seconds, dancer.fps, seq.num_frames, multiple=dancer.stride)
            music = np.asarray(seq.music[:n])
            genre = genre_of(seq.name)
            [dance] = dancer.dance([music], PREVIEW_SAMPLING, genres=[genre if genre in gpt.config.genres else None],
                                   generator=torch.Generator().manual_seed(PREVIEW_SEED), names=[seq.name])
            motion = dance.motion
            out.append(Preview(f"dance_{seq.name}", [motion], music=song_path(trainer, seq.name),
                               title=f"generated for {seq.name}",
                               beats=None if channel is None else BeatPlot(motion.joints, motion.fps,
                                                                           beat_frames(music, channel))))
    return out


def cut_tokens(tables, starts, num_tokens: int, margin: int = 0, pad: int = 0,
               device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """``{stream: (B, N + 2 margin)}``: from each sequence's whole token table ``{stream: (N_i,)}``, the
    ``num_tokens`` tokens from ``starts[b]`` with ``margin`` tokens of context either side, ``pad``
    where the sequence has none."""
    rows = []
    for table, start in zip(tables, starts):
        row = {}
        for s, t in table.items():
            lo, hi = start - margin, start + num_tokens + margin
            piece = t[max(0, lo):min(len(t), hi)]
            row[s] = F.pad(piece, (max(0, -lo), max(0, hi - len(t))), value=pad)
        rows.append(row)
    return {s: torch.stack([r[s] for r in rows]).to(device) for s in rows[0]}


def music_stats(sequences) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of the training sequences' music frames."""
    x = np.concatenate([np.asarray(s.music, dtype=np.float64) for s in sequences], axis=0)
    mean, std = x.mean(axis=0), x.std(axis=0)
    rank_zero_info(f"music statistics from {len(sequences)} sequences, {x.shape[0]} frames")
    return torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(np.maximum(std, 1e-4), dtype=torch.float32)
