"""The tokenizer part of ``make demo``: train the quick tokenizers on the synthetic corpus and render
reconstructions next to their sources.

:func:`run_tokenizer_demo` (``out`` defaults to ``demo_out``):

1. writes the quick synthetic corpus to ``<out>/synth`` unless it is there;
2. runs ``python cli.py fit`` on ``configs/quick/{solo_tokenizer,duet_tokenizer,duet_translation}.yaml``,
   each with its paths moved under ``<out>`` (the config actually run is written to
   ``<out>/configs/``), in a subprocess: exactly what a user runs;
3. loads the checkpoints with :mod:`tokenizer.pretrained` (no Lightning) and, on the first test
   sequence, renders ``<out>/tokenizer_solo.mp4`` (source in blue, its reconstruction from tokens in
   red, 1.5 m to the side), ``<out>/tokenizer_duet_follower.mp4`` (the same for a duet's follower) and
   ``<out>/tokenizer_duet.mp4`` (the true leader, and the follower rebuilt from tokens alone: pose from
   the duet tokenizer, position from the relative-translation tokens);
4. writes ``<out>/tokenizer_demo.json``: fit wall times and each clip's errors (pose MPJPE
   pelvis-relative, whole-body MPJPE including the integrated root, root error at the clip's end).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

from data.datasets.aistpp import AISTPPReader
from data.datasets.dd100 import DD100Reader
from data.motion import Motion
from data.render import render_video
from data.synth.corpus import synth_corpus
from tokenizer.pretrained import Tokenizer, TranslationTokenizer
from tokenizer.translation import follower_offset, follower_root

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"solo_tokenizer": "configs/quick/solo_tokenizer.yaml",
         "duet_tokenizer": "configs/quick/duet_tokenizer.yaml",
         "duet_translation": "configs/quick/duet_translation.yaml"}
SIDE_OFFSET = np.array([1.5, 0.0, 0.0])
"""Where the reconstruction stands relative to its source in the side-by-side videos (metres)."""
CLIP_SECONDS = 8.0


def relocated_config(name: str, out: Path, path: str | Path | None = None, corpus: str | None = None,
                     model_paths: dict[str, str] | None = None) -> dict:
    """A quick YAML (``QUICK[name]`` or ``path``) with every ``demo_out/...`` path moved under ``out``:
    the data root to ``out/synth/<corpus>``, logs to ``out/runs``, checkpoints to ``out/checkpoints/<name>``;
    ``model_paths`` sets model init args that name earlier checkpoints (``{"tokenizer": "solo_tokenizer"}``
    -> ``out/checkpoints/solo_tokenizer/last.ckpt``)."""
    cfg = yaml.safe_load((ROOT / (path or QUICK[name])).read_text())
    corpus = corpus or ("aistpp" if name == "solo_tokenizer" else "dd100")
    cfg["data"]["init_args"]["root"] = str(out / "synth" / corpus)
    for arg, stage in (model_paths or {}).items():
        cfg["model"]["init_args"][arg] = str(out / "checkpoints" / stage / "last.ckpt")
    trainer = cfg["trainer"]
    trainer["default_root_dir"] = str(out / "runs" / name)
    trainer["logger"]["init_args"]["save_dir"] = str(out / "runs")
    for cb in trainer.get("callbacks", []):
        if cb["class_path"].endswith("ModelCheckpoint"):
            cb["init_args"]["dirpath"] = str(out / "checkpoints" / name)
    return cfg


def run_cli(*args) -> None:
    """``python cli.py ARGS...`` in a subprocess from the repository root, exactly as a user runs it
    (the demo steps' commands); a failure raises."""
    subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT, check=True)


def fit_quick(name: str, out: Path, config: dict | None = None) -> tuple[Path, float]:
    """Run ``cli.py fit`` on a quick config (``config``, default the relocated ``QUICK[name]``) in a
    subprocess, exactly as a user does; returns (last checkpoint, seconds)."""
    path = out / "configs" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config or relocated_config(name, out), sort_keys=False))
    ckpt = out / "checkpoints" / name / "last.ckpt"
    if ckpt.exists():
        ckpt.unlink()  # a stale checkpoint must not pass for this run's
    start = time.perf_counter()
    run_cli("fit", "--config", path)
    seconds = time.perf_counter() - start
    if not ckpt.is_file():
        raise RuntimeError(f"`cli.py fit --config {path}` finished without writing {ckpt}")
    return ckpt, seconds


def fit_relocated(name: str, out: Path, corpus: str, model_paths: dict[str, str], tag: str) -> tuple[Path, float]:
    """``configs/quick/<name>.yaml`` relocated under ``out`` (:func:`relocated_config`, its earlier
    checkpoints named by ``model_paths``) and fitted (:func:`fit_quick`), the command printed first
    under ``[tag]``; returns (last checkpoint, seconds)."""
    config = relocated_config(name, out, f"configs/quick/{name}.yaml", corpus, model_paths)
    print(f"[{tag}] python cli.py fit --config {out / 'configs' / (name + '.yaml')}", flush=True)
    return fit_quick(name, out, config)


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


def run_tokenizer_demo(out: str | Path = "demo_out", fit: bool = True) -> dict:
    """Train the quick tokenizers (unless ``fit`` is false and checkpoints exist) and render the videos."""
    out = Path(out).resolve()
    summary: dict = {}
    corpus = out / "synth"
    if not ((corpus / "aistpp" / "motions").is_dir() and (corpus / "dd100").is_dir()):
        print(f"[tokenizer demo] writing the quick synthetic corpus to {corpus}", flush=True)
        synth_corpus(corpus, preset="quick", seed=0)

    ckpts = {}
    for name in QUICK:
        last = out / "checkpoints" / name / "last.ckpt"
        if fit or not last.is_file():
            print(f"[tokenizer demo] python cli.py fit --config {out / 'configs' / (name + '.yaml')}", flush=True)
            ckpts[name], seconds = fit_quick(name, out)
            summary[f"{name}_fit_s"] = round(seconds, 1)
        else:
            ckpts[name] = last

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

    (out / "tokenizer_demo.json").write_text(json.dumps(summary, indent=1))
    print(f"[tokenizer demo] {json.dumps(summary)}", flush=True)
    return summary


def tokenizer_step(out: Path) -> tuple[dict, str]:
    """The demo step (see :mod:`demo`): the quick tokenizers trained, and motion rebuilt from their tokens."""
    tokens = run_tokenizer_demo(out)
    line = (f"tokenizers trained; from tokens: solo pose MPJPE {tokens['solo_clip']['pose_mpjpe_mm']} mm, "
            f"duet follower {tokens['duet_clip']['follower']['pose_mpjpe_mm']} mm -> {tokens['solo_video']}, "
            f"{tokens['duet_video']}")
    return tokens, line


if __name__ == "__main__":
    run_tokenizer_demo(sys.argv[1] if len(sys.argv) > 1 else "demo_out")
