"""``cli.py dance``: dances to songs from a trained solo GPT checkpoint.

Everything that can fail on the user's input fails before anything is written: the checkpoint is
loaded, the options checked, every song decoded and its features computed, the seed motion read;
then all dances are generated in one batch (songs x samples, a progress bar per token step) and each
is written as ``<song>[_<k>].npz`` (pasdeux motion), ``.pkl`` (AIST++ layout, SMPL), ``.bvh`` and an
``.mp4`` stick-figure preview with the song; every file atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data.errors import InputError

OUTPUT_FORMATS = ("npz", "pkl", "bvh", "mp4")
MOTION_WRITERS = {"npz": "npz", "pkl": "aistpp", "bvh": "bvh"}
"""Output suffix -> :func:`data.formats.save_motion` format (mp4 is the rendered preview)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ckpt", type=Path, required=True, metavar="CKPT", help="solo GPT checkpoint (SoloGPTStage)")
    p.add_argument("--music", type=Path, nargs="+", required=True, metavar="SONG",
                   help="audio files (any format librosa/soundfile or ffmpeg reads: wav, flac, ogg, mp3, ...)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--genre", default=None, help="genre label the model knows (default: none)")
    p.add_argument("--seed-motion", type=Path, default=None, metavar="FILE",
                   help="every dance starts with this motion (npz, AIST++ pkl, bvh) and continues it")
    add_sampling_arguments(p, "dances per song")
    p.add_argument("--formats", nargs="+", default=list(OUTPUT_FORMATS), choices=OUTPUT_FORMATS,
                   help="what to write per dance (default: all)")


def add_sampling_arguments(p: argparse.ArgumentParser, samples_help: str, temperature: float = 1.0,
                           top_p: float = 0.95) -> None:
    """The sampling, device and cache options ``dance`` and ``follow`` share (each with its defaults)."""
    p.add_argument("--temperature", type=float, default=temperature, help=f"0 is greedy (default {temperature:g})")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
    p.add_argument("--top-p", type=float, default=top_p,
                   help=f"nucleus: the most likely tokens up to p (default {top_p:g})")
    p.add_argument("--samples", type=int, default=1, help=f"{samples_help} (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default 0)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--precision", default="32", choices=("32", "bf16"), help="GPT weights (default 32)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="music feature cache (default $PASDEUX_CACHE or ~/.cache/pasdeux/features)")


def check_sampling_args(args: argparse.Namespace) -> None:
    """One clear error for nonsense sampling, device or output options (``dance`` and ``follow``)."""
    if args.samples < 1:
        raise InputError(None, f"--samples {args.samples}", "ask for at least one sample")
    if args.temperature < 0 or args.top_k < 0 or not 0 < args.top_p <= 1:
        raise InputError(None, f"--temperature {args.temperature} --top-k {args.top_k} --top-p {args.top_p}",
                         "use temperature >= 0, top-k >= 0 and 0 < top-p <= 1")
    check_device_and_out(args)


def check_device_and_out(args: argparse.Namespace) -> None:
    """One clear error for ``--device cuda`` without CUDA, or an ``--out`` that is not a folder (every
    generating command: ``dance``, ``follow``, ``camera``)."""
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError(None, "--device cuda but torch sees no CUDA device", "use --device cpu")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(args.out, "exists and is not a folder", "pass a folder for --out")


def _check_args(args: argparse.Namespace) -> None:
    check_sampling_args(args)
    stems = {}
    for song in args.music:
        if song.stem in stems:
            raise InputError(song, f"has the same name stem as {stems[song.stem]}: their dances would collide",
                             "rename one or run them separately")
        stems[song.stem] = song


def run_dance(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from data.formats import load_motion, save_motion
    from gpt.pretrained import SoloDancer
    from gpt.sampling import SamplingConfig

    _check_args(args)
    dancer = SoloDancer.from_checkpoint(args.ckpt).to(args.device).set_precision(args.precision)
    if not dancer.tokenizer.config.rotations and {"pkl", "bvh"} & set(args.formats):
        raise InputError(args.ckpt, "its tokenizer decodes joint positions only, so no SMPL pkl or BVH can be written",
                         "pass --formats npz mp4, or train the tokenizer with rotations: true")
    try:
        dancer.config.genre_index(args.genre)
    except ValueError:
        raise InputError(args.ckpt, f"the model knows no genre {args.genre!r}",
                         f"use one of: none, {', '.join(dancer.config.genres)}" if dancer.config.genres
                         else "this model was trained without genres: leave --genre out") from None
    seed_motion = None
    if args.seed_motion is not None:
        seed_motion = load_motion(args.seed_motion)
        if seed_motion.skeleton != dancer.tokenizer.skeleton or abs(seed_motion.fps - dancer.fps) > 1e-6:
            raise InputError(args.seed_motion, f"is {seed_motion.skeleton} at {seed_motion.fps:g} fps, the model "
                                               f"dances {dancer.tokenizer.skeleton} at {dancer.fps:g} fps",
                             "convert the seed motion first")
    features = []
    for song in tqdm(args.music, desc="music features", unit="song", disable=True if len(args.music) < 2 else None):
        features.append(dancer.music_features(song, cache_dir=args.cache_dir))
    music = [f.features for f in features] * args.samples  # (songs x samples) in one batch
    names = [f"{s.stem}_{k}" if args.samples > 1 else s.stem for k in range(args.samples) for s in args.music]
    sampling = SamplingConfig(args.temperature, args.top_k, args.top_p)
    steps = -(-max(f.features.shape[0] for f in features) // dancer.stride)
    with tqdm(total=steps, desc=f"dancing {len(music)} x {steps} steps", unit="step", disable=None) as bar:
        dances = dancer.dance(music, sampling, genres=[args.genre] * len(music), seed_motion=seed_motion,
                              generator=torch.Generator().manual_seed(args.seed), names=names, progress=bar.update)
    args.out.mkdir(parents=True, exist_ok=True)
    songs = list(args.music) * args.samples
    for d, name, song in zip(dances, names, songs):
        d.motion.music = str(song)
        for fmt in args.formats:
            if fmt in MOTION_WRITERS:
                print(save_motion(d.motion, args.out / f"{name}.{fmt}", MOTION_WRITERS[fmt]))
            else:
                from data.render import render_video

                print(render_video(d.motion, args.out / f"{name}.mp4", music=song, title=f"pasdeux: {song.name}"))
    return 0
