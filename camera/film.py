"""``cli.py camera``: film a dance to its song with a trained camera model, and export it for MMD.

Everything that can fail on the user's input fails before anything is written: the checkpoint is
loaded, the options checked, the dance read (npz, AIST++ pkl, BVH, DD100 npy, DCM motion json),
checked for NaN and put on the MMD skeleton the model was trained on (:func:`camera.pretrained.
dance_joints`), and the song's features computed and checked to cover the dance. Then the camera is
sampled for every frame and written to ``DIR``:

    camera.vmd    the camera as sparse MMD keys (shots cut, per-channel Bezier curves; camera.keyframes)
    dance.vmd     the dance as MMD bone keys (camera.retarget), when the dance has rotations
    camera.json   the per-frame camera, DCM's CameraCentric json (the model's own output, no fitting)
    camera.npz    the per-frame camera with the dancer's joints, what ``cli.py evaluate --task camera`` reads
    camera.mp4    the dance filmed through the camera, with the song

each file atomically; the keyframe fit's figures (keys per minute, largest error) are printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data.errors import InputError

OUTPUT_FORMATS = ("vmd", "json", "npz", "mp4")


def add_dance_vmd_arguments(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """The options of a dance exported as VMD bones (``convert --to vmd`` and ``camera``)."""
    p.add_argument("--arm-angle", type=float, default=None, metavar="DEG",
                   help=f"{prefix}the MMD model's rest arm angle below horizontal (default 37.5, a standard "
                        "A-pose model; 0 for a T-pose model)")
    p.add_argument("--model-name", default=None, metavar="NAME",
                   help=f"{prefix}the model name in the dance VMD's header (default 'pasdeux')")
    p.add_argument("--floor", type=float, default=None, metavar="M",
                   help=f"{prefix}the motion's floor height in metres (default: estimated from the feet)")
    p.add_argument("--keep-ik", action="store_true",
                   help=f"{prefix}leave the model's leg IK on (by default a key turns it off so the leg "
                        "rotations drive the legs)")


def dance_vmd_options(args: argparse.Namespace) -> list[str]:
    """The dance-VMD flags the user gave."""
    given = [flag for flag, value in (("--arm-angle", args.arm_angle), ("--model-name", args.model_name),
                                      ("--floor", args.floor)) if value is not None]
    return given + (["--keep-ik"] if args.keep_ik else [])


def dance_vmd_config(args: argparse.Namespace):
    """:class:`camera.retarget.RetargetConfig` from the options; one clear error for nonsense."""
    from camera.retarget import RetargetConfig

    given = dict(arm_rest_angle_deg=args.arm_angle, model_name=args.model_name, floor_height=args.floor)
    try:
        return RetargetConfig(**{k: v for k, v in given.items() if v is not None}, disable_ik=not args.keep_ik)
    except ValueError as e:
        raise InputError(None, str(e), "see `cli.py convert --help`") from None


def parse_aspect(text: str) -> float:
    """``16:9`` / ``1.85`` -> width / height; one clear error otherwise."""
    try:
        if ":" in text:
            w, h = (float(v) for v in text.split(":"))
            value = w / h
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        value = float("nan")
    if not 0.2 <= value <= 5.0:
        raise InputError(None, f"--aspect {text}", "give the frame's width:height, e.g. 16:9 or 4:3")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ckpt", type=Path, required=True, metavar="CKPT", help="camera checkpoint (CameraDiffusionStage)")
    p.add_argument("--music", type=Path, required=True, metavar="SONG", help="the song the dance is danced to")
    p.add_argument("--dance", type=Path, required=True, metavar="MOTION",
                   help="the dance: npz (pasdeux, e.g. from `cli.py dance`), AIST++ pkl, BVH, DD100 npy or DCM json")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--steps", type=int, default=None,
                   help="diffusion sampling steps (default: the checkpoint's; fewer is faster)")
    p.add_argument("--aspect", default="16:9", help="frame width:height for the preview (default 16:9)")
    p.add_argument("--guidance-dance", type=float, default=None, help="dance guidance weight (default: checkpoint's)")
    p.add_argument("--guidance-music", type=float, default=None, help="music guidance weight (default: checkpoint's)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default 0)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--formats", nargs="+", default=list(OUTPUT_FORMATS), choices=OUTPUT_FORMATS,
                   help="what to write (default: all; vmd is camera.vmd and, with rotations, dance.vmd)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="music feature cache (default $PASDEUX_CACHE or ~/.cache/pasdeux/features)")
    add_dance_vmd_arguments(p, "dance.vmd: ")


def run_camera(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from camera.keyframes import KeyframeConfig, keyframe_report, track_to_sparse_vmd
    from camera.pretrained import CameraDirector, dance_joints
    from camera.render import render_camera_view
    from camera.retarget import floor_plane, motion_to_vmd
    from camera.vmd import write_vmd
    from data.camera import dcm_to_metres, save_camera_npz
    from data.datasets.dcm import write_camera_json
    from data.formats import load_motion
    from gpt.dance import check_device_and_out

    aspect = parse_aspect(args.aspect)
    if args.steps is not None and args.steps < 1:
        raise InputError(None, f"--steps {args.steps}", "use at least one sampling step")
    for flag in ("guidance_dance", "guidance_music"):
        if getattr(args, flag) is not None and getattr(args, flag) < 0:
            raise InputError(None, f"--{flag.replace('_', '-')} {getattr(args, flag)}", "use a weight >= 0")
    check_device_and_out(args)
    retarget = dance_vmd_config(args)
    director = CameraDirector.from_checkpoint(args.ckpt).to(args.device)
    if args.steps is not None and args.steps > director.diffusion.timesteps:
        raise InputError(None, f"--steps {args.steps}", f"use at most {director.diffusion.timesteps}")
    motion = load_motion(args.dance)  # DCM motion json included
    floor = args.floor  # the dance VMD's floor, when it has one, is the camera's too
    if floor is None and motion.rotations is not None and motion.skeleton != "mmd60":
        floor = floor_plane(motion, retarget)
    joints = dance_joints(motion, args.dance, floor=floor)  # (T, 60, 3) DCM units, 30 fps
    if joints.shape[0] < 2:
        raise InputError(args.dance, f"the dance has {joints.shape[0]} frame at 30 fps", "give a longer dance")
    dance_vmd = None
    if "vmd" in args.formats and motion.rotations is not None:
        dance_vmd = motion_to_vmd(motion, retarget, source=args.dance)  # fails here, before anything is written
    music = director.music_features(args.music, cache_dir=args.cache_dir).features  # (T', F)
    if music.shape[0] < joints.shape[0]:
        raise InputError(args.music, f"the song is {music.shape[0] / 30:.2f} s, shorter than the dance "
                                     f"({joints.shape[0] / 30:.2f} s)", "give the song the dance is danced to")
    steps = args.steps or director.diffusion.sampling_steps
    with tqdm(desc=f"filming {joints.shape[0]} frames", unit="step", disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        track = director.film(joints, music, steps=steps, guidance_dance=args.guidance_dance,
                              guidance_music=args.guidance_music, generator=torch.Generator().manual_seed(args.seed),
                              name=args.dance.stem, progress=progress)
    args.out.mkdir(parents=True, exist_ok=True)
    if "vmd" in args.formats:
        config = KeyframeConfig()
        vmd = track_to_sparse_vmd(track, config)
        report = keyframe_report(track, vmd.cameras, config)
        print(write_vmd(vmd, args.out / "camera.vmd"))
        print(f"camera.vmd: {report['num_keys']} keys ({report['keys_per_minute']:.0f} per minute) for {track.num_frames} "
              f"frames, eye within {report['max_eye_error']:.3g} MMD units of the per-frame camera", file=sys.stderr)
        if dance_vmd is not None:
            print(write_vmd(dance_vmd, args.out / "dance.vmd"))
        else:
            print(f"{args.dance.name} has joint positions only: no dance.vmd (VMD bones need rotations)",
                  file=sys.stderr)
    if "json" in args.formats:
        print(write_camera_json(track, args.out / "camera.json"))
    if "npz" in args.formats:
        print(save_camera_npz(track, args.out / "camera.npz", joints=dcm_to_metres(joints), skeleton="mmd60"))
    if "mp4" in args.formats:
        print(render_camera_view(dcm_to_metres(joints), "mmd60", track, args.out / "camera.mp4", music=args.music,
                                 aspect=aspect, title=f"pasdeux camera - {args.music.name}"))
    return 0


__all__ = ["add_arguments", "run_camera", "add_dance_vmd_arguments", "dance_vmd_config", "dance_vmd_options",
           "parse_aspect"]
