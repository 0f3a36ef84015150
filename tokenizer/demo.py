"""The tokenizer part of ``make demo``: the quick tokenizer stages (:data:`FITS`, trained by
:mod:`demo` through :func:`training.quick.fit_quick`), and reconstructions from their tokens.

:func:`tokenizer_previews` (after the three fits) loads the checkpoints with :mod:`tokenizer.pretrained`
(no Lightning) and, on the first test sequence, renders ``<out>/tokenizer_solo.mp4`` (source in blue,
its reconstruction from tokens in red, 1.5 m to the side), ``<out>/tokenizer_duet_follower.mp4`` (the
same for a duet's follower) and ``<out>/tokenizer_duet.mp4`` (the true leader, and the follower rebuilt
from tokens alone: pose from the duet tokenizer, position from the relative-translation tokens); it
writes ``<out>/tokenizer_demo.json``: each clip's errors (pose MPJPE pelvis-relative, whole-body MPJPE
including the integrated root, root error at the clip's end).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from data.datasets.aistpp import AISTPPReader
from data.datasets.dd100 import DD100Reader
from data.io import atomic_output
from data.motion import Motion
from data.render import render_video
from tokenizer.pretrained import Tokenizer, TranslationTokenizer
from tokenizer.translation import follower_offset, follower_root
from training.quick import QuickFit

FITS = (QuickFit("solo_tokenizer", "aistpp", demo_steps=400),
        QuickFit("duet_tokenizer", "dd100", demo_steps=500),
        QuickFit("duet_translation", "dd100", demo_steps=500))
"""The quick tokenizer stages (``configs/quick/<name>.yaml``) and their steps in the demo's short schedule."""
SIDE_OFFSET = np.array([1.5, 0.0, 0.0])
"""Where the reconstruction stands relative to its source in the side-by-side videos (metres)."""
CLIP_SECONDS = 8.0


def _shifted(motion, offset: np.ndarray, name: str):
    root = None if motion.root is None else motion.root + offset
    return replace(motion, joints=motion.joints + offset, root=root, name=name)


def _clip_errors(rec, source) -> dict:
    """Pose error (pelvis-relative MPJPE, mm), whole-body error (mm) and root error at the end (m)."""
    rel = lambda m: m.joints - m.joints[:, :1]  # noqa: E731
    return {"pose_mpjpe_mm": round(float(np.linalg.norm(rel(rec) - rel(source), axis=-1).mean() * 1000), 1),
            "mpjpe_mm": round(float(np.linalg.norm(rec.joints - source.joints, axis=-1).mean() * 1000), 1),
            "root_err_end_m": round(float(np.linalg.norm(rec.joints[-1, 0] - source.joints[-1, 0])), 3)}


def _clip(motion, seconds: float = CLIP_SECONDS):
    return motion.slice(0, min(motion.num_frames, int(round(seconds * motion.fps))))


def tokenizer_previews(out: str | Path = "demo_out") -> dict:
    """Reconstructions from the trained quick tokenizers' tokens, rendered beside their sources."""
    out = Path(out).resolve()
    summary: dict = {}
    corpus = out / "synth"
    ckpts = {fit.name: fit.checkpoint(out) for fit in FITS}

    # Solo: source next to its reconstruction from tokens.
    solo = Tokenizer.from_checkpoint(ckpts["solo_tokenizer"])
    aist = AISTPPReader(corpus / "aistpp")
    name = aist.sequences("test")[0]
    source = _clip(aist.load(name))
    rec = solo.reconstruct(source)
    summary["solo_clip"] = {"sequence": name, "frames": source.num_frames, **_clip_errors(rec, source)}
    video = render_video([source, _shifted(rec, SIDE_OFFSET, "tokenized")], out / "tokenizer_solo.mp4",
                         music=aist.music_path(name), title=f"{name}: source (blue) | from tokens (red)")
    summary["solo_video"] = str(video)

    # Duet: the follower's reconstruction, and the follower rebuilt from pose + translation tokens.
    duet = Tokenizer.from_checkpoint(ckpts["duet_tokenizer"])
    trans = TranslationTokenizer.from_checkpoint(ckpts["duet_translation"])
    dd = DD100Reader(corpus / "dd100")
    pair = dd.duets("test")[0]
    leader, follower = (_clip(m) for m in dd.load_pair(pair))
    rec_f = duet.reconstruct(follower)
    video = render_video([follower, _shifted(rec_f, SIDE_OFFSET, "tokenized")], out / "tokenizer_duet_follower.mp4",
                         music=dd.music_path(pair), title=f"{pair} follower: source (blue) | from tokens (red)")
    summary["duet_follower_video"] = str(video)

    lj = torch.as_tensor(leader.joints, dtype=torch.float32)  # (T, 55, 3)
    fj = torch.as_tensor(follower.joints, dtype=torch.float32)
    offset, heading = follower_offset(lj, fj[:, 0], trans.frame)  # in the trained frame
    dec_offset = trans.decode(trans.encode(offset), num_frames=fj.shape[0])
    pelvis = follower_root(lj[:, 0], dec_offset, trans.frame, heading)  # (T, 3)
    pose = duet.decode(duet.encode(fj), num_frames=fj.shape[0])
    joints = (pose["joints_rel"] + pelvis[:, None]).double().numpy()
    placed = Motion(skeleton="smplx55", fps=follower.fps, joints=joints, name="follower from tokens")
    summary["duet_clip"] = {
        "duet": pair, "frames": follower.num_frames,
        "follower": _clip_errors(rec_f, follower),
        "follower_placed_by_translation_tokens_mpjpe_mm": round(float(
            np.linalg.norm(joints - follower.joints, axis=-1).mean() * 1000), 1),
        "offset_err_mm": round(float((dec_offset - offset).norm(dim=-1).mean() * 1000), 1)}
    video = render_video([leader, placed], out / "tokenizer_duet.mp4", music=dd.music_path(pair),
                         title=f"{pair}: true leader (blue), follower from tokens (red)")
    summary["duet_video"] = str(video)

    with atomic_output(out / "tokenizer_demo.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    return summary


def tokenizer_step(out: Path) -> tuple[dict, str]:
    """The demo job (see :mod:`demo`): motion rebuilt from the trained tokenizers' tokens."""
    tokens = tokenizer_previews(out)
    line = (f"from tokens: solo pose MPJPE {tokens['solo_clip']['pose_mpjpe_mm']} mm, "
            f"duet follower {tokens['duet_clip']['follower']['pose_mpjpe_mm']} mm -> {tokens['solo_video']}, "
            f"{tokens['duet_video']}")
    return tokens, line
