"""Training stage of the interaction GPT.

:class:`DuetGPTStage` is :class:`gpt.lightning.SoloGPTStage` with a leader and a translation stream:
the frozen duet tokenizer and the frozen relative-translation tokenizer are read from their
checkpoints (parts, codebook sizes, stride and fps come from there, never from the GPT's YAML); every
duet of the data module is tokenized once, whole (leader parts, follower parts, the follower's offset
from the leader in the translation tokenizer's frame); a training window's follower tokens are cut
from those tables, its leader tokens with the leader encoder's reach of real context either side (the
"no leader" token beyond the song's edges, as generation sees it), its music from the window's frames
plus the data module's margin. The loss is the sum of the five streams' cross-entropies (Duolando's).
The checkpoint carries both tokenizers, so ``cli.py follow`` needs the GPT's file alone.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any, Mapping

import torch
from lightning.pytorch.utilities import rank_zero_info

import numpy as np

from data.motion import Motion
from data.music import get_feature_set
from duet.model import TRANSLATION, DuetGPT, DuetGPTConfig
from duet.pretrained import Follower, follow_hparams
from gpt.lightning import PREVIEW_SEED, SoloGPTStage, cut_tokens, tokenizer_facts
from gpt.sampling import SamplingConfig
from gpt.solo import shift_right, token_loss
from tokenizer.pretrained import Tokenizer, TranslationTokenizer
from tokenizer.translation import follower_offset
from training.optim import OptimizerConfig
from training.previews import BeatPlot, Preview, beat_frames, clip_frames, evaluating, song_path, validation_sequences
from training.stage import StageName

PREVIEW_SAMPLING = SamplingConfig(temperature=0.7, top_p=0.9)
"""How preview followers are sampled: ``cli.py follow``'s defaults."""


@torch.no_grad()
def tokenize_duets(tokenizer: Tokenizer, translation: TranslationTokenizer, sequences, skip=()) -> dict[str, dict]:
    """``{duet: {"leader": {part: (N,)}, "follower": {stream: (N,)}}}``: each duet's leader and follower
    encoded whole, the follower's offset from the leader in the translation tokenizer's frame."""
    out = {}
    for seq in sequences:
        if seq.name in skip or seq.name in out:
            continue
        leader = torch.as_tensor(seq.leader.joints, dtype=torch.float32)  # (T, J, 3)
        follower = torch.as_tensor(seq.follower.joints, dtype=torch.float32)
        offset, _ = follower_offset(leader, follower[:, 0], translation.frame)  # (T, 3)
        out[seq.name] = {"leader": tokenizer.encode(leader),
                         "follower": {**tokenizer.encode(follower), TRANSLATION: translation.encode(offset)}}
    return out


def window_duet_tokens(gpt: DuetGPT, tables: Mapping[str, dict], names, first_tokens, num_tokens: int,
                       device: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], int]:
    """Windows' follower tokens ``{stream: (B, N)}`` cut from whole-duet ``tables`` at ``first_tokens``,
    the leader's ``{part: (B, N + 2 m)}`` with ``m`` = the leader encoder's reach of real context either
    side (the "no leader" token beyond the song), and ``m``."""
    follower = cut_tokens([tables[n]["follower"] for n in names], first_tokens, num_tokens, device=device)
    margin = max(gpt.config.leader_reach)
    leader = cut_tokens([tables[n]["leader"] for n in names], first_tokens, num_tokens, margin,
                        pad=gpt.pad_token, device=device)
    return follower, leader, margin


def window_conditions(gpt: DuetGPT, leader: Mapping[str, torch.Tensor], leader_margin: int, music: torch.Tensor,
                      num_tokens: int) -> dict[str, torch.Tensor]:
    """The condition streams of windows, ``{"music", "leader"}`` ``(B, N, D)`` each: the music tokens of
    the windows' frames ``(B, T + 2m, F)`` and the leader tokens of :func:`window_duet_tokens`'s leader
    cut (``leader_margin`` tokens of context either side)."""
    margin = (music.shape[1] - num_tokens * gpt.config.frames_per_token) // 2
    return {"music": gpt.music_tokens(music, num_tokens=num_tokens, margin=margin),
            "leader": gpt.leader_tokens(leader, num_tokens=num_tokens, margin=leader_margin)}


class DuetGPTStage(SoloGPTStage):
    """Trains the interaction GPT over the frozen duet and translation tokenizers.

    Args:
        tokenizer: path of the duet tokenizer checkpoint (``TokenizerStage``, ``part_set: duet``).
        translation: path of the relative-translation tokenizer checkpoint (``TranslationStage``).
        gpt: the GPT's own settings (transformer, music and leader encoders); the tokenizers' facts are
            filled in from the checkpoints.
        feature_set: the music feature set; default: the data module's (it must be the same).
        optimizer: optimiser and schedule.
    """

    config_class = DuetGPTConfig
    model_class = DuetGPT

    def __init__(self, tokenizer: str, translation: str, gpt: DuetGPTConfig | dict | None = None,
                 feature_set: str | None = None, optimizer: OptimizerConfig | dict | None = None) -> None:
        # Stage's __init__, not SoloGPTStage's: that one saves the hyper-parameters before the translation
        # path is known; _init_gpt is the rest of it.
        super(SoloGPTStage, self).__init__(optimizer)
        self.translation_path = str(translation)
        self.translation: TranslationTokenizer | None = None
        self._init_gpt(tokenizer, gpt, feature_set, "sequence")
        self._save()

    def _save(self) -> None:
        self.save_hyperparameters({"tokenizer": self.tokenizer_path, "translation": self.translation_path,
                                   "optimizer": asdict(self.optim_config),
                                   **follow_hparams(self.config, self.tokenizer, self.translation, self.feature_set)})

    def load_tokenizer(self) -> Tokenizer:
        """Read both frozen tokenizers and take their facts into the config."""
        if self.tokenizer is None:
            tok = Tokenizer.from_checkpoint(self.tokenizer_path)
            if tok.model.config.part_set != "duet":
                raise ValueError(f"{self.tokenizer_path}: a {tok.model.config.part_set} tokenizer; the interaction GPT "
                                 "needs the duet tokenizer (configs/*/duet_tokenizer.yaml)")
            trans = TranslationTokenizer.from_checkpoint(self.translation_path)
            if trans.stride != tok.stride or abs(trans.config.fps - tok.fps) > 1e-6:
                raise ValueError(f"the translation tokenizer ({trans.stride} frames per token at {trans.config.fps:g} "
                                 f"fps) does not match the duet tokenizer ({tok.stride} at {tok.fps:g})")
            for p in (*tok.parameters(), *trans.parameters()):
                p.requires_grad_(False)
            self.tokenizer, self.translation = tok, trans
            self.config = replace(self.config, **tokenizer_facts(tok),
                                  translation_codebook_size=trans.model.codebook_size)
        return self.tokenizer

    def configure_model(self) -> None:
        super().configure_model()
        # The step passes no genre (DD100 has none), so the genre table gets no gradient; DDP without
        # unused-parameter detection (the configs' `strategy: ddp`) fails on such a parameter: frozen.
        self.gpt.genre_embedding.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.translation is not None:
            self.translation.eval()
        return self

    def _start_position(self, train) -> None:
        return None  # the follower stands where the leader and the translation tokens put it

    @torch.no_grad()
    def _tokenize_sequences(self, dm) -> None:
        """Leader and follower tokens of every duet of every split, each encoded whole."""
        for split in dict.fromkeys(dm.splits.values()):
            self._sequence_tokens.update(tokenize_duets(self.tokenizer, self.translation, dm.sequences(split),
                                                        skip=self._sequence_tokens))
        rank_zero_info(f"tokenized {len(self._sequence_tokens)} duets whole")

    def duet_tokens(self, names, starts, num_tokens: int, device: torch.device
                    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], int]:
        """Each window's follower tokens ``{stream: (B, N)}``, its leader's ``{part: (B, N + 2 m)}`` and
        that margin ``m`` (the leader encoder's reach)."""
        return window_duet_tokens(self.gpt, self._sequence_tokens, names, self.token_starts(names, starts),
                                  num_tokens, device)

    def losses(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Teacher-forced cross-entropy per stream, accuracy, and their total ``loss`` on a batch of windows."""
        music = batch["music"]  # (B, T + 2m, F)
        B, T = batch["leader_joints"].shape[:2]
        N = T // self.config.frames_per_token
        follower, leader, margin = self.duet_tokens(batch["name"], batch["start"], N, music.device)
        cond = window_conditions(self.gpt, leader, margin, music, N)  # (B, N, D) each
        logits = self.gpt(cond["music"], shift_right(follower, self.gpt.start_ids), leader=cond["leader"])
        return token_loss(logits, follower)

    def shared_step(self, batch: Mapping[str, Any], stage: StageName) -> torch.Tensor:
        return self.log_losses(self.losses(batch), stage, batch["music"].shape[0])

    def preview(self, seconds: float, count: int = 1) -> list[Preview]:
        """For :class:`training.previews.Previews`: the first ``seconds`` of each of the first ``count``
        validation duets' leader with a follower generated as ``cli.py follow`` generates one
        (:meth:`duet.pretrained.Follower.follow`), and the follower's beat plot against the song's
        beats and the leader's."""
        return duet_previews(self.trainer, self, self.gpt, self.tokenizer, self.translation, self.feature_set,
                             seconds, count)


def duet_previews(trainer, stage: torch.nn.Module, gpt: DuetGPT, tokenizer: Tokenizer, translation: TranslationTokenizer,
                  feature_set: str | None, seconds: float, count: int = 1) -> list[Preview]:
    """What :meth:`DuetGPTStage.preview` shows, for any stage that trains an interaction GPT (``stage``:
    the module put in eval mode meanwhile, its modes restored after)."""
    channel = get_feature_set(feature_set).beat_channel if feature_set else None
    out = []
    with evaluating(stage):
        follower = Follower(gpt, tokenizer, translation, feature_set or "")  # (sets its modules to eval)
        for seq in validation_sequences(trainer, count):
            n = clip_frames(seconds, follower.fps, seq.num_frames, multiple=follower.stride)
            music = np.asarray(seq.music[:n])
            leader = Motion(skeleton=follower.tokenizer.skeleton, fps=follower.fps, joints=seq.leader.joints[:n],
                            name="leader")
            [dance] = follower.follow([leader], [music], PREVIEW_SAMPLING, names=["follower"],
                                      generator=torch.Generator().manual_seed(PREVIEW_SEED))
            beats = None if channel is None else BeatPlot(dance.motion.joints, follower.fps, beat_frames(music, channel),
                                                          leader=leader.joints, title=f"follower generated for {seq.name}")
            out.append(Preview(f"follower_{seq.name}", [leader, dance.motion], music=song_path(trainer, seq.name),
                               title=f"{seq.name}: leader (blue), generated follower (red)", beats=beats))
    return out


__all__ = ["DuetGPTStage", "duet_previews", "tokenize_duets", "window_duet_tokens", "window_conditions"]
