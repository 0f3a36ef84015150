"""``cli.py follow``: a follower for a leader's motion and a song, from a trained interaction GPT.

Everything that can fail on the user's input fails before anything is written: the checkpoint is
loaded, the options checked, the leader read (npz, DD100 npy, AIST++ pkl, BVH; a solo dance from
``cli.py dance`` too), checked for NaN, put on the model's skeleton (``smpl24`` -> ``smplx55``) and
resampled to its frame rate, and the song's features computed and checked to cover the leader. Then
the followers (``--samples`` of them) are generated in one batch over every frame of the leader and
written as ``<name>[_<k>]_follower.npz`` / ``.bvh``, the leader as used ``<name>_leader.npz`` / ``.bvh``,
both dancers' joints in ``<name>[_<k>]_pair.npz`` and a two-dancer ``<name>[_<k>].mp4`` with the song;
every file atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data.errors import InputError
from gpt.dance import add_sampling_arguments, check_sampling_args

OUTPUT_FORMATS = ("npz", "bvh", "mp4")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ckpt", type=Path, required=True, metavar="CKPT", help="interaction GPT checkpoint (DuetGPTStage)")
    p.add_argument("--leader", type=Path, required=True, metavar="MOTION",
                   help="the leader: npz (pasdeux), npy (DD100), pkl (AIST++) or bvh, any fps, smpl24 or smplx55")
    p.add_argument("--music", type=Path, required=True, metavar="SONG", help="the song the leader dances to")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--name", default=None, help="output file stem (default: the leader file's)")
    # Cooler than dance's defaults: at temperature 1 / top-p 0.95 the relative-translation stream samples
    # codes far from the last one and the follower's pelvis jumps (quick model, a held-out duet: offset
    # speed p99 5.1 m/s against the truth's 0.75); at 0.7 / 0.9 it moves about as the truth's (1.2 m/s).
    add_sampling_arguments(p, "followers", temperature=0.7, top_p=0.9)
    p.add_argument("--translation-temperature", type=float, default=None,
                   help="the relative-translation stream's own temperature (default: --temperature)")
    p.add_argument("--translation-top-p", type=float, default=None, help="its own top-p (default: --top-p)")
    p.add_argument("--formats", nargs="+", default=list(OUTPUT_FORMATS), choices=OUTPUT_FORMATS,
                   help="what to write (default: all)")


def prepare_leader(path: Path, skeleton: str, fps: float):
    """The leader file as the model reads it: finite, on ``skeleton``, at ``fps``."""
    from data.errors import check_finite
    from data.formats import load_motion
    from data.motion import resample, to_skeleton

    leader = load_motion(path)
    check_finite(leader.joints, path, "the leader's joints")
    if leader.rotations is not None:
        check_finite(leader.rotations, path, "the leader's rotations")
    if leader.skeleton != skeleton:
        try:
            leader = to_skeleton(leader, skeleton)
        except InputError as e:
            raise InputError(path, f"the leader is on the {leader.skeleton} skeleton, the model follows {skeleton} "
                                   f"({e.problem})", "give an smplx55 or smpl24 motion with rotations") from None
    return resample(leader, fps)


def run_follow(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from data.formats import save_motion
    from data.io import save_npz_atomic
    from data.render import render_video
    from duet.pretrained import Follower, follower_sampling
    from gpt.sampling import SamplingConfig

    check_sampling_args(args)
    follower = Follower.from_checkpoint(args.ckpt).to(args.device).set_precision(args.precision)
    if not follower.tokenizer.config.rotations and "bvh" in args.formats:
        raise InputError(args.ckpt, "its tokenizer decodes joint positions only, so no BVH can be written",
                         "pass --formats npz mp4, or train the duet tokenizer with rotations: true")
    leader = prepare_leader(args.leader, follower.tokenizer.skeleton, follower.fps)
    if leader.num_frames < follower.stride:
        raise InputError(args.leader, f"the leader has {leader.num_frames} frames at {follower.fps:g} fps, fewer "
                                      f"than one token ({follower.stride})", "give a longer leader")
    music = follower.music_features(args.music, cache_dir=args.cache_dir).features  # (T, F)
    if music.shape[0] < leader.num_frames:
        raise InputError(args.music, f"the song is {music.shape[0] / follower.fps:.2f} s, shorter than the leader "
                                     f"({leader.num_frames / follower.fps:.2f} s)",
                         "give the song the leader dances to, or cut the leader to the song")
    leader.music = str(args.music)
    name = args.name or args.leader.stem
    leader.name = f"{name} (leader)"  # the labels in the video
    names = [f"{name}_{k}" if args.samples > 1 else name for k in range(args.samples)]
    steps = -(-leader.num_frames // follower.stride)
    try:
        sampling = follower_sampling(follower.gpt.streams, SamplingConfig(args.temperature, args.top_k, args.top_p),
                                     args.translation_temperature, args.translation_top_p)
    except ValueError:
        raise InputError(None, f"--translation-temperature {args.translation_temperature} --translation-top-p "
                               f"{args.translation_top_p}", "use a temperature >= 0 and 0 < top-p <= 1") from None
    with tqdm(total=steps, desc=f"following {args.samples} x {steps} steps", unit="step", disable=None) as bar:
        dances = follower.follow([leader] * args.samples, [music] * args.samples, sampling,
                                 generator=torch.Generator().manual_seed(args.seed),
                                 names=[f"{n} (follower)" for n in names], progress=bar.update)
    args.out.mkdir(parents=True, exist_ok=True)
    for fmt in [f for f in args.formats if f != "mp4"]:
        if fmt == "bvh" and not leader.has_rotations:  # a positions-only leader (Duolando's pos3d npy)
            print(f"the leader has joint positions only: no {name}_leader.bvh", file=sys.stderr)
            continue
        print(save_motion(leader, args.out / f"{name}_leader.{fmt}", fmt))
    for d, n in zip(dances, names):
        d.motion.music = str(args.music)
        for fmt in args.formats:
            if fmt == "mp4":
                print(render_video([leader, d.motion], args.out / f"{n}.mp4", music=args.music,
                                   title=f"pasdeux: leader (blue), follower (red) - {args.music.name}"))
                continue
            print(save_motion(d.motion, args.out / f"{n}_follower.{fmt}", fmt))
            if fmt == "npz":
                print(save_npz_atomic(args.out / f"{n}_pair.npz", leader_joints=leader.joints.astype(np.float32),
                                      follower_joints=d.motion.joints.astype(np.float32), fps=np.float64(follower.fps),
                                      skeleton=np.str_(leader.skeleton),
                                      **{f"follower_{s}": t.numpy() for s, t in d.tokens.items()}))
    return 0
