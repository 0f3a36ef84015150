"""pasdeux's one command line.

Training stages run through LightningCLI::

    python cli.py fit --config configs/quick/solo_tokenizer.yaml
    python cli.py fit --config configs/quick/solo_tokenizer.yaml --ckpt_path last   # resume, mid-epoch too
    python cli.py validate|test|predict --config ... --ckpt_path ...

Checkpoints are written atomically; a ``--ckpt_path`` that is missing, truncated, another stage's or
``last`` with no last checkpoint stops before the run with one line (see :mod:`training.resume`).

Tool commands need no Trainer and are dispatched before Lightning is imported (so they start fast)::

    python cli.py features SONG... --fps 60 --set bailando438 --out DIR
    python cli.py convert IN --to bvh|npz|aistpp|vmd --out FILE [--arm-angle DEG] [--model-name NAME]
    python cli.py render MOTION [MOTION] [--music SONG] --out FILE.mp4
    python cli.py dance --ckpt CKPT --music SONG... --out DIR [--genre G] [--seed-motion FILE] [--samples N] ...
    python cli.py follow --ckpt CKPT --leader MOTION --music SONG --out DIR [--samples N] ...
    python cli.py camera --ckpt CKPT --music SONG --dance MOTION --out DIR [--steps N] [--aspect W:H]
    python cli.py demo --out DIR [--schedule demo|full] [--jobs N] [--retrain]
    python cli.py synth --out DIR [--preset quick|full] [--seed N]
    python cli.py evaluate --task solo|duet|camera --pred DIR --gt DIR [--protocol NAME] [--out FILE.json]

Bad input prints one line, ``pasdeux: error: FILE: problem; fix``, and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Nothing reaches the network at run time: wandb logs offline unless the user says otherwise.
os.environ.setdefault("WANDB_MODE", "offline")

LIGHTNING_COMMANDS = {
    "fit": "train a stage from a YAML config",
    "validate": "run a stage's validation loop",
    "test": "run a stage's test loop",
    "predict": "run a stage's predict loop",
}


# --------------------------------------------------------------------------------------------------
# Tool commands
# --------------------------------------------------------------------------------------------------
def _features(args: argparse.Namespace) -> int:
    from data.music import write_feature_files

    written = write_feature_files(args.songs, args.out, fps=args.fps, feature_set=args.set,
                                  cache_dir=args.cache_dir)
    for path in written:
        print(path)
    return 0


def _convert(args: argparse.Namespace) -> int:
    from data.errors import InputError
    from data.formats import load_motion, save_motion

    from camera.film import dance_vmd_config, dance_vmd_options

    vmd_options = dance_vmd_options(args)
    if args.to != "vmd" and vmd_options:
        raise InputError(None, f"{', '.join(vmd_options)} only apply to --to vmd",
                         f"drop them, or write --to vmd instead of --to {args.to}")
    if args.to == "vmd":
        from camera.retarget import motion_to_vmd
        from camera.vmd import write_vmd

        config = dance_vmd_config(args)
        motion = load_motion(args.input)
        print(write_vmd(motion_to_vmd(motion, config, source=args.input), args.out))
        return 0
    motion = load_motion(args.input)
    print(save_motion(motion, args.out, args.to))
    return 0


def _render(args: argparse.Namespace) -> int:
    from data.formats import load_motion
    from data.render import render_video

    motions = [load_motion(m) for m in args.motions]
    print(render_video(motions, args.out, music=args.music, fps=args.fps, size=args.size,
                       title=args.title))
    return 0


def _dance(args: argparse.Namespace) -> int:
    from gpt.dance import run_dance

    return run_dance(args)


def _follow(args: argparse.Namespace) -> int:
    from duet.follow import run_follow

    return run_follow(args)


def _camera(args: argparse.Namespace) -> int:
    from camera.film import run_camera

    return run_camera(args)


def _demo(args: argparse.Namespace) -> int:
    from demo import run_demo

    run_demo(args.out, schedule=args.schedule, jobs=args.jobs, reuse=not args.retrain)
    return 0


def _synth(args: argparse.Namespace) -> int:
    from data.synth.corpus import format_report, synth_corpus

    report = synth_corpus(args.out, preset=args.preset, seed=args.seed, progress=not args.quiet,
                          log=lambda line: print(line, file=sys.stderr))
    print(format_report(report))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from metrics.evaluate import main as evaluate_main

    return evaluate_main(args)


def _tool_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cli.py", description="pasdeux: music to dance.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from data.music import FEATURE_SETS

    p = sub.add_parser("features", help="music features at the motion frame rate, with beats",
                       description="Compute a named music-feature set for each song at the motion fps "
                                   "and write DIR/<stem>.npz holding features (T, F), beats (frame "
                                   "indices) and fps. Results are cached by audio content.")
    p.add_argument("songs", nargs="+", type=Path, metavar="SONG", help="audio files (wav, flac, ogg, mp3)")
    p.add_argument("--fps", type=int, default=60, choices=(30, 60), help="motion frame rate (default 60)")
    p.add_argument("--set", default="bailando438", choices=sorted(FEATURE_SETS), help="feature set")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="feature cache (default $PASDEUX_CACHE or ~/.cache/pasdeux/features)")
    p.set_defaults(func=_features)

    p = sub.add_parser("convert", help="convert a motion between npz, AIST++ pkl, DD100 npy and BVH, or to MMD's VMD",
                       description="Read IN (.npz, AIST++ .pkl, DD100 .npy, .bvh) and write it as --to. vmd: "
                                   "MikuMikuDance bone keys for a standard MMD model at 30 fps (smpl24 / smplx55 "
                                   "motions with rotations; see camera/retarget.py), with leg IK switched off.")
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("--to", required=True, choices=("bvh", "npz", "aistpp", "vmd"), help="output format")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    from camera.film import add_dance_vmd_arguments

    add_dance_vmd_arguments(p, "vmd only: ")
    p.set_defaults(func=_convert)

    p = sub.add_parser("render", help="skeleton preview video (one or two dancers), with the song",
                       description="Render a stick-figure video of one or two motions; --music muxes "
                                   "the song in.")
    p.add_argument("motions", nargs="+", type=Path, metavar="MOTION", help="one or two motion files")
    p.add_argument("--music", type=Path, default=None, metavar="SONG")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.mp4")
    p.add_argument("--fps", type=float, default=None, help="video frame rate (default: the motion's, "
                                                           "capped at 30)")
    p.add_argument("--size", type=int, default=512, help="video height in pixels (default 512)")
    p.add_argument("--title", default="", help="caption drawn on the video")
    p.set_defaults(func=_render)

    from gpt.dance import add_arguments as dance_arguments

    p = sub.add_parser("dance", help="dances to songs from a trained solo GPT (npz, AIST++ pkl, BVH, mp4 preview)",
                       description="Generate a dance for every song (and --samples per song) in one batch and write "
                                   "DIR/<song>[_<k>].{npz,pkl,bvh,mp4}. Songs of any length and format; "
                                   "sampling by temperature, top-k and top-p, seeded.")
    dance_arguments(p)
    p.set_defaults(func=_dance)

    from duet.follow import add_arguments as follow_arguments

    p = sub.add_parser("follow", help="a duet follower for a leader's motion and its song, from a trained interaction GPT",
                       description="Generate the follower for every frame of the leader (npz, DD100 npy, AIST++ pkl or "
                                   "BVH, any fps; a `dance` output works) and write DIR/<name>_{follower,leader}."
                                   "{npz,bvh}, <name>_pair.npz and a two-dancer <name>.mp4 with the song.")
    follow_arguments(p)
    p.set_defaults(func=_follow)

    from camera.film import add_arguments as camera_arguments

    p = sub.add_parser("camera", help="a camera for a dance and its song, from a trained camera model, for MMD",
                       description="Film every frame of the dance (npz, AIST++ pkl, BVH, DD100 npy or DCM json, any "
                                   "fps) and write DIR/camera.vmd (sparse MMD keys), dance.vmd (MMD bones), "
                                   "camera.json (per frame), camera.npz and camera.mp4 (through the camera, with "
                                   "the song).")
    camera_arguments(p)
    p.set_defaults(func=_camera)

    p = sub.add_parser("demo", help="the main job on embedded synthetic data (what `make demo` runs)",
                       description="Synthesise the quick corpus, train every quick stage (two at a time), dance, "
                                   "follow and film held-out songs, evaluate them and write OUT/index.html. "
                                   "Stages whose config, inputs and code are unchanged are reused.")
    p.add_argument("--out", type=Path, default=Path("demo_out"))
    p.add_argument("--schedule", choices=("demo", "full"), default="demo",
                   help="demo: each stage's short demo schedule (under 20 min on 2 cores); full: the quick "
                        "configs' own max_steps (what the README's figures are measured on)")
    p.add_argument("--jobs", type=int, default=None, help="tasks at once (default: 2 on 2 or more cores)")
    p.add_argument("--retrain", action="store_true", help="train every stage again, even when unchanged")
    p.set_defaults(func=_demo)

    p = sub.add_parser("synth", help="write the synthetic corpus (AIST++, DD100, DCM layouts) with ground truth",
                       description="Generate songs with known beats, sections and genres, solo dances, "
                                   "duets and camera tracks, written as DIR/aistpp, DIR/dd100 and DIR/dcm in "
                                   "the real datasets' layouts, plus ground-truth sidecars. The same seed "
                                   "writes the same bytes.")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--preset", default="quick", choices=("quick", "full", "test"),
                   help="quick: 40 songs of 20 s (under a minute); full: 60 songs of 60 s, 3 dancers each "
                        "(minutes); test: 9 songs of 8 s (for CI)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_synth)

    from metrics.protocols import PROTOCOLS

    p = sub.add_parser("evaluate", help="dance, duet and camera metrics against a reference set",
                       description="Score the sequences in --pred against the reference set in --gt under a "
                                   "named protocol (default: the task's reference protocol); prints a table "
                                   "headed by the metrics version and protocol, and writes json with --out.")
    p.add_argument("--task", required=True, choices=("solo", "duet", "camera"))
    p.add_argument("--pred", type=Path, required=True, metavar="DIR", help="generated sequences (or a dataset root)")
    p.add_argument("--gt", type=Path, required=True, metavar="DIR", help="reference sequences (or a dataset root)")
    p.add_argument("--protocol", default=None, choices=sorted(PROTOCOLS),
                   help="bailando / duolando / dancecamera3d (reference, the defaults) or pasdeux-* (corrected)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE.json", help="also write the scores as json")
    p.add_argument("--beats", type=Path, default=None, metavar="DIR",
                   help="music beats per sequence or song (npz from `features`, json, or audio) for BAS")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="feature cache (default $PASDEUX_CACHE/metrics or ~/.cache/pasdeux/metrics)")
    p.add_argument("--no-cache", action="store_true", help="compute every feature afresh, write no cache")
    p.add_argument("--smplx-models", type=Path, default=None, metavar="DIR",
                   help="SMPL-X model files (SMPLX_{NEUTRAL,FEMALE,MALE}.npz): every duet joint from the body "
                        "model with each file's gender and betas, as Duolando's preprocessing, and contact from meshes")
    p.set_defaults(func=_evaluate)
    return parser


TOOL_COMMANDS = ("features", "convert", "render", "dance", "follow", "camera", "demo", "evaluate", "synth")


def run_tool(argv: list[str]) -> int:
    from data.errors import InputError

    args = _tool_parser().parse_args(argv)
    if args.command == "render" and len(args.motions) > 2:
        print("pasdeux: error: render takes one or two motions", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except InputError as e:
        print(f"pasdeux: error: {e}", file=sys.stderr)
        return 2


# --------------------------------------------------------------------------------------------------
# Training stages (LightningCLI)
# --------------------------------------------------------------------------------------------------
def lightning_main(argv: list[str]) -> None:
    from lightning.pytorch.cli import LightningCLI

    from training.precision import default_precision
    from training.resume import resolve_ckpt_path, use_atomic_checkpoints

    class PasdeuxCLI(LightningCLI):
        def before_instantiate_classes(self) -> None:
            # A config that leaves `trainer.precision` unset gets bf16-mixed where the hardware runs
            # bf16 natively (GPUs with bf16, AVX512-BF16/AMX CPUs) and fp32 elsewhere.
            config = self.config[self.subcommand] if self.subcommand else self.config
            trainer = config.get("trainer")
            if trainer is not None and trainer.get("precision") is None:
                trainer["precision"] = default_precision(trainer.get("accelerator"))

        def _parse_ckpt_path(self) -> None:
            # LightningCLI would re-read the model's init arguments from the checkpoint's hyper_parameters.
            # A pasdeux stage keeps there the configs it built (derived fields included), which its
            # __init__ does not take: the YAML stays the run's settings, and the checkpoint is checked
            # in before_<subcommand> instead.
            pass

        def _start(self, subcommand: str) -> None:
            """Checkpoints written atomically; ``--ckpt_path`` resolved (``last``) and checked, so a
            truncated, foreign or missing checkpoint stops here with one line, before anything is written."""
            use_atomic_checkpoints(self.trainer)
            config = self.config_init[subcommand]
            config["ckpt_path"] = resolve_ckpt_path(self.trainer, self.model, config.get("ckpt_path"),
                                                    resume=subcommand == "fit")

        def before_fit(self) -> None:
            self._start("fit")

        def before_validate(self) -> None:
            self._start("validate")

        def before_test(self) -> None:
            self._start("test")

        def before_predict(self) -> None:
            self._start("predict")

    _quiet_lightning()
    # LightningCLI reads sys.argv itself; handing it `args` as well makes it warn on every run.
    sys.argv = [sys.argv[0], *argv]
    PasdeuxCLI(
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"description": "pasdeux training stages"},
    )


def _quiet_lightning() -> None:
    """Drop the lines every pasdeux fit would print that say nothing about the run: Lightning's
    advertisement for its cloud logger, its warning about modules in eval mode (the frozen tokenizer
    inside a GPT stage is meant to be), and a deprecation inside Lightning's own pytree code."""
    import logging
    import warnings

    class _NoTips(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not str(record.msg).startswith("💡 Tip")

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_NoTips())  # rank_zero_info logs through these
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


def _print_overview() -> None:
    print("usage: python cli.py COMMAND ...\n\npasdeux: music to dance.\n\ntraining stages (LightningCLI):")
    for name, text in LIGHTNING_COMMANDS.items():
        print(f"  {name:<10} {text}")
    print("\ntools:")
    for action in _tool_parser()._subparsers._group_actions[0]._choices_actions:
        print(f"  {action.dest:<10} {action.help}")
    print("\n`python cli.py COMMAND --help` for a command's options.")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _print_overview()
        return 0
    if argv[0] in TOOL_COMMANDS:
        return run_tool(argv)
    if argv[0] in LIGHTNING_COMMANDS:
        from data.errors import InputError

        try:
            lightning_main(argv)
        except InputError as e:  # bad data or checkpoint paths in a config: one line, as for the tools
            print(f"pasdeux: error: {e}", file=sys.stderr)
            return 2
        return 0
    print(f"pasdeux: error: unknown command {argv[0]!r}; run `python cli.py --help`", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
