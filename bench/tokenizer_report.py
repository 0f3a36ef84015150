"""Held-out figures of trained tokenizers, and FreqVQ (and the rotation trick) on vs off.

For each checkpoint given (loaded with :mod:`tokenizer.pretrained`, no Lightning), on the test split of
the corpus, whole sequences (each encoded and decoded in one piece, the root integrated from the true
first frame):

* MPJPE (mm) of the pelvis-relative joints, overall and per part; for hands also the wrist's error
  and the fingers' error relative to their wrist (a hand's MPJPE is mostly its wrist's);
* root drift: distance between decoded and true pelvis 10 s after the start;
* rotations: mean geodesic error (deg) of the decoded joint rotations, and the MPJPE of forward
  kinematics of the decoded rotations (what an exported SMPL animation shows);
* beat alignment: Bailando's BAS (:func:`metrics.beat.bailando_bas`, the motion with its root) of the
  reconstruction and of the truth against the song's beat times from the corpus's ground truth, and of
  the truth against another song's beats (the chance level: what BAS gives a dance that does not listen);
* codebook: perplexity of the test tokens and dead codes (never used on the test split), per part;
* speed content: the per-bin velocity amplitude-spectrum error and high-band (>= 3 Hz) energy ratio,
  and, phase-blind and stable, Welch-PSD energy ratios per band (0-1, 1-3, 3-6, 6-12, >= 12 Hz) and the
  RMS log-distance (dB) between the velocity PSDs (speed homogenisation: ratios below 1 at high Hz).

For the translation checkpoint: the offset error (mm) and its codebook figures.

The ablation trains the quick solo config again from scratch for ``--ablation-steps`` steps per
variant (same seed, same data, same steps), each variant a set of part-config overrides
(``upsample=transposed,freq_weight=0``; shorthands ``baseline`` = the config as it is, ``freq:W``,
``rotation_trick``). The default set is FreqVQ off / on positions / on velocities, with Bailando's
transposed-conv decoder and with nearest upsampling. Each is evaluated as above; ``--plot`` draws
the velocity spectra of the truth and of each.

    python bench/tokenizer_report.py --synth demo_out/synth \\
        --solo demo_out/checkpoints/solo_tokenizer/last.ckpt \\
        --duet demo_out/checkpoints/duet_tokenizer/last.ckpt \\
        --translation demo_out/checkpoints/duet_translation/last.ckpt \\
        [--ablation-steps 2000 [--variants baseline freq:1.0 ...] [--seed 0]] [--out FILE.json] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data.datasets.aistpp import try_parse_sequence_name  # noqa: E402
from data.fk import forward_kinematics, to_rotmat  # noqa: E402
from metrics.beat import bailando_bas, mean_score  # noqa: E402
from data.skeleton import get_skeleton  # noqa: E402
from tokenizer.evaluation import (code_histogram, codebook_usage, compare_psd, mpjpe_mm,  # noqa: E402
                                  velocity_psd, velocity_spectrum_error)
from data.geometry import absolute_joints, integrate_root_velocity  # noqa: E402
from tokenizer.pretrained import Tokenizer, TranslationTokenizer  # noqa: E402

DRIFT_SECONDS = 10.0
PSD_KEY = "_velocity_psd"


# --------------------------------------------------------------------------------------------------
# Test data: whole sequences of the test split, through the same DataModules as training
# --------------------------------------------------------------------------------------------------
def test_dancers(task: str, root: Path, stride: int) -> list[dict]:
    """Whole test sequences as dancer dicts (``joints`` pelvis-relative, ``root_vel``, ``root_start``,
    ``rotations`` 6D); duet: leader and follower both."""
    from data.datamodules import DuetDataModule, SoloDataModule

    if task == "solo":
        dm = SoloDataModule(str(root), eval_mode="whole", frame_multiple=stride, rotations=True)
    else:
        dm = DuetDataModule(str(root), eval_mode="whole", frame_multiple=stride, rotations=True)
    ds = dm.dataset("test")
    out = []
    for i in range(len(ds)):
        s = ds[i]
        beats = song_beat_times(task, root, s["name"])
        for prefix in ([""] if task == "solo" else ["leader_", "follower_"]):
            out.append({k: s[f"{prefix}{k}"] for k in ("joints", "root_vel", "root_start", "rotations")}
                       | {"name": f"{s['name']}{'/' + prefix[:-1] if prefix else ''}", "beat_times": beats})
    return out


def song_beat_times(task: str, root: Path, name: str) -> np.ndarray | None:
    """Beat times (s) of a test sequence's song from the synthetic corpus's ground truth (None for a
    real dataset, which has no such file: BAS is then left out)."""
    if task == "solo":
        info = try_parse_sequence_name(name)
        path = None if info is None else root / "groundtruth" / "music" / f"{info.music_id}.json"
    else:
        path = root / "groundtruth" / f"{name}.json"
    if path is None or not path.is_file():
        return None
    truth = json.loads(path.read_text(encoding="utf-8"))
    return np.asarray((truth if task == "solo" else truth["song"])["beat_times"], dtype=np.float64)


def beat_alignment(dancers: list[dict], decoded: list[torch.Tensor], fps: float) -> dict:
    """BAS of the decoded dances and of the truth (absolute joints, root included) against each song's
    beats, and of the truth against the next sequence's song with other beats (chance level)."""
    truth = [absolute_joints(d["joints"], d["root_vel"], d["root_start"]).double().numpy() for d in dancers]
    beats = [None if d["beat_times"] is None else np.round(d["beat_times"] * fps).astype(np.int64) for d in dancers]
    have = [i for i, b in enumerate(beats) if b is not None]
    if not have:
        return {}

    def other(i: int) -> np.ndarray:  # the next sequence whose song has other beats
        for k in have[have.index(i) + 1:] + have[:have.index(i)]:
            if not np.array_equal(beats[k], beats[i]):
                return beats[k]
        return beats[i]

    mean = lambda xs: round(mean_score(xs)[0], 4)  # noqa: E731
    bas = mean([bailando_bas(decoded[i].double().numpy(), beats[i]) for i in have])
    bas_truth = mean([bailando_bas(truth[i], beats[i]) for i in have])
    return {"bas": bas, "bas_truth": bas_truth, "bas_ratio_to_truth": round(bas / bas_truth, 3),
            "bas_truth_other_song": mean([bailando_bas(truth[i], other(i)) for i in have])}


def test_offsets(root: Path, stride: int, key: str) -> list[torch.Tensor]:
    from data.datamodules import DuetDataModule

    ds = DuetDataModule(str(root), eval_mode="whole", frame_multiple=stride, rotations=False).dataset("test")
    return [ds[i][key] for i in range(len(ds))]


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------
def geodesic_deg(a6: torch.Tensor, b6: torch.Tensor) -> torch.Tensor:
    """Mean rotation angle (degrees) between two sets of 6D rotations ``(..., 6)``."""
    Ra, Rb = to_rotmat(a6, "6d"), to_rotmat(b6, "6d")
    cos = ((Ra.transpose(-1, -2) @ Rb).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0))).mean()


def evaluate_tokenizer(tok: Tokenizer, dancers: list[dict]) -> dict:
    """Held-out figures of a motion tokenizer (frame-weighted means over the sequences)."""
    sk = get_skeleton(tok.skeleton)
    parts = tok.model.spec.parts
    drift_frame = int(round(DRIFT_SECONDS * tok.fps))
    sums: dict[str, float] = {}
    frames = 0
    drifts, hists = [], {p: torch.zeros(tok.codebook_size, dtype=torch.long) for p in tok.parts}
    spec_pred, spec_true, decoded = [], [], []
    for d in dancers:
        joints, T = d["joints"], d["joints"].shape[0]
        idx = tok.encode(joints)
        for p, v in idx.items():
            hists[p] += code_histogram(v, tok.codebook_size)
        out = tok.decode(idx, root_start=d["root_start"], num_frames=T)
        w = float(T)
        frames += T

        def add(key: str, value: torch.Tensor) -> None:
            sums[key] = sums.get(key, 0.0) + w * float(value)

        add("mpjpe_mm", mpjpe_mm(out["joints_rel"], joints))
        for p, j in parts.items():
            add(f"{p}/mpjpe_mm", mpjpe_mm(out["joints_rel"], joints, j))
        for p, wrist in tok.model.spec.hand_wrists.items():
            # The fingers' own error, their wrist's error taken out (a hand's MPJPE is mostly its wrist's).
            rel = lambda x: x[:, list(parts[p])] - x[:, wrist, None]  # noqa: E731
            add(f"{p}/finger_rel_wrist_mm", mpjpe_mm(rel(out["joints_rel"]), rel(joints)))
            add(f"{p}/wrist_mpjpe_mm", mpjpe_mm(out["joints_rel"], joints, [wrist]))
        true_root = integrate_root_velocity(d["root_vel"], d["root_start"])  # (T, 3)
        if T > drift_frame:
            drifts.append(float((out["root"][drift_frame] - true_root[drift_frame]).norm()))
        if "rotations" in out:
            add("rotation_err_deg", geodesic_deg(out["rotations_6d"], d["rotations"]))
            # FK of the decoded rotations on the rest skeleton, pelvis-relative (SMPL export).
            fk = forward_kinematics(sk, out["rotations"].double(), torch.zeros(T, 3, dtype=torch.float64))
            fk_true = forward_kinematics(sk, d["rotations"].double(), torch.zeros(T, 3, dtype=torch.float64), rep="6d")
            add("fk_mpjpe_mm", mpjpe_mm(fk - fk[..., :1, :], joints.double()))
            add("fk_of_true_rotations_mpjpe_mm", mpjpe_mm(fk_true - fk_true[..., :1, :], joints.double()))
        decoded.append(out["joints_rel"] + out["root"][:, None])  # (T, J, 3) absolute, for BAS
        spec_pred.append(out["joints_rel"].reshape(1, T, -1))
        spec_true.append(joints.reshape(1, T, -1))
    result = {k: round(v / frames, 2) for k, v in sums.items()}
    # Speed content by band (Welch PSDs of the joint velocities, every sequence whole).
    freqs, psd_true = velocity_psd([x[0] for x in spec_true], tok.fps)
    psd_pred = velocity_psd([x[0] for x in spec_pred], tok.fps)[1]
    result.update({k: round(v, 3) for k, v in compare_psd(freqs, psd_pred, psd_true).items()})
    result[PSD_KEY] = {"freqs": freqs.tolist(), "true": psd_true.tolist(), "pred": psd_pred.tolist()}  # the plot's
    result.update(beat_alignment(dancers, decoded, tok.fps))
    result["root_drift_10s_m"] = round(sum(drifts) / len(drifts), 4) if drifts else None
    result["drift_sequences"] = len(drifts)
    # Velocity spectra over a common length (the shortest sequence), sequences stacked.
    n = min(x.shape[1] for x in spec_true)
    vs = velocity_spectrum_error(torch.cat([x[:, :n] for x in spec_pred]), torch.cat([x[:, :n] for x in spec_true]),
                                 tok.fps)
    result.update({k: round(v, 4) for k, v in vs.items()})
    for p, h in hists.items():
        usage = codebook_usage(h)
        result[f"{p}/perplexity"] = round(usage["perplexity"], 1)
        result[f"{p}/unused_codes"] = int(usage["dead"])
    result["codebook_size"] = tok.codebook_size
    result["sequences"] = len(dancers)
    result["frames"] = frames
    return result


def evaluate_translation(tok: TranslationTokenizer, offsets: list[torch.Tensor]) -> dict:
    err_sum, frames = 0.0, 0
    hist = torch.zeros(tok.model.codebook_size, dtype=torch.long)
    for x in offsets:
        idx = tok.encode(x)
        hist += code_histogram(idx, tok.model.codebook_size)
        rec = tok.decode(idx, num_frames=x.shape[0])
        err_sum += float((rec - x).norm(dim=-1).sum())
        frames += x.shape[0]
    usage = codebook_usage(hist)
    return {"frame": tok.frame, "offset_err_mm": round(1000 * err_sum / frames, 2),
            "perplexity": round(usage["perplexity"], 1), "unused_codes": int(usage["dead"]),
            "codebook_size": tok.model.codebook_size, "sequences": len(offsets), "frames": frames}


# --------------------------------------------------------------------------------------------------
# Ablation: the quick solo config trained again per variant
# --------------------------------------------------------------------------------------------------
def train_variant(config_path: Path, corpus: Path, steps: int, part_overrides: dict, seed: int = 0) -> Tokenizer:
    """Train the config's tokenizer from scratch for ``steps`` (no validation) on ``corpus`` (the folder
    holding ``aistpp/`` and ``dd100/``); solo or duet, as the config's data module says."""
    import lightning.pytorch as pl

    from data.datamodules import DuetDataModule, SoloDataModule
    from tokenizer.lightning import TokenizerStage

    cfg = yaml.safe_load(config_path.read_text())
    init = cfg["model"]["init_args"]
    tok_cfg = dict(init["tokenizer"])
    tok_cfg["part"] = {**tok_cfg["part"], **part_overrides}
    pl.seed_everything(seed)
    stage = TokenizerStage(tok_cfg, init["optimizer"])
    duet = cfg["data"]["class_path"].endswith("DuetDataModule")
    data = {**cfg["data"]["init_args"], "root": str(corpus / ("dd100" if duet else "aistpp"))}
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                         num_sanity_val_steps=0)
    trainer.fit(stage, datamodule=(DuetDataModule if duet else SoloDataModule)(**data))
    tok = Tokenizer(stage.config)
    tok.model.load_state_dict(stage.tokenizer.state_dict())
    return tok.eval()


DEFAULT_VARIANTS = (
    "upsample=transposed,freq_weight=0",                         # Bailando's decoder, no FreqVQ
    "upsample=transposed,freq_weight=1,freq_domain=position",    # + FreqVQ as the FFL paper: positions
    "upsample=transposed,freq_weight=1,freq_domain=velocity",    # + FreqVQ on velocities
    "upsample=nearest,freq_weight=0",                            # nearest upsampling alone
    "upsample=nearest,freq_weight=1,freq_domain=velocity",       # both: the shipped quick config
)
"""Explicit overrides, so the table does not depend on what the config file currently says."""
ABLATION_KEYS = ("mpjpe_mm", "upper/mpjpe_mm", "lower/mpjpe_mm", "root_drift_10s_m", "spectrum_error",
                 "high_band_ratio", "psd_log_distance_db", "rotation_err_deg", "upper/perplexity", "lower/perplexity",
                 "bas", "bas_truth", "bas_ratio_to_truth", "bas_truth_other_song")


def parse_variant(spec: str) -> dict:
    """An ablation variant as part-config overrides: ``baseline``, ``rotation_trick``, ``freq:W`` or
    ``KEY=VALUE[,KEY=VALUE]`` (values read as YAML scalars); unknown keys are refused."""
    from dataclasses import fields

    from tokenizer.vqvae import PartVQVAEConfig

    if spec == "baseline":  # the config as it is
        return {}
    if spec == "rotation_trick":
        return {"rotation_trick": True}
    if spec.startswith("freq:"):
        return {"freq_weight": float(spec[5:])}
    known = {f.name for f in fields(PartVQVAEConfig)}
    out = {}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            raise ValueError(f"unknown variant {spec!r}: use baseline, freq:W, rotation_trick or KEY=VALUE with KEY "
                             f"one of {sorted(known)}")
        out[key] = yaml.safe_load(value)
    return out


def printable(figures: dict) -> dict:
    """The figures without the spectra kept for the plot (recursively)."""
    return {k: printable(v) if isinstance(v, dict) else v for k, v in figures.items() if k != PSD_KEY}


def plot_spectra(report: dict, path: Path) -> Path:
    """Velocity PSDs of the truth and of every evaluated tokenizer / ablation variant, one panel per
    corpus, log-log: speed homogenisation shows as a curve falling below the truth at high frequency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = {}
    for key in ("solo", "duet"):
        if key in report:
            panels[f"{key} tokenizer (test split)"] = {"tokenizer": report[key][PSD_KEY]}
    if "ablation" in report:
        panels[f"ablation, quick solo, {report['ablation']['steps']} steps"] = {
            name: v[PSD_KEY] for name, v in report["ablation"].items() if isinstance(v, dict) and PSD_KEY in v}
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        first = next(iter(curves.values()))
        f = first["freqs"][1:]
        ax.loglog(f, first["true"][1:], color="black", linewidth=2.2, label="ground truth")
        for name, psd in curves.items():
            ax.loglog(f, psd["pred"][1:], linewidth=1.2, label=name)
        ax.set(title=title, xlabel="frequency (Hz)", ylabel="joint velocity PSD ((m/s)²/Hz, summed over joints)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", type=Path, default=ROOT / "demo_out" / "synth",
                        help="corpus folder holding aistpp/ and dd100/ (default demo_out/synth)")
    parser.add_argument("--solo", type=Path, default=None, help="solo tokenizer checkpoint")
    parser.add_argument("--duet", type=Path, default=None, help="duet tokenizer checkpoint")
    parser.add_argument("--translation", type=Path, default=None, help="translation checkpoint")
    parser.add_argument("--ablation-steps", type=int, default=0,
                        help="train the quick solo config per variant for this many steps (0: skip)")
    parser.add_argument("--ablation-config", type=Path, default=ROOT / "configs/quick/solo_tokenizer.yaml")
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS),
                        help="ablation variants: baseline, freq:W (focal frequency loss weight W), rotation_trick, "
                             "or part-config overrides KEY=VALUE[,KEY=VALUE] (e.g. freq_weight=0.1,freq_alpha=2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every ablation run (weights, batches, k-means)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as json")
    parser.add_argument("--plot", type=Path, default=None,
                        help="draw the velocity spectra (truth and every tokenizer evaluated) to this .png")
    args = parser.parse_args(argv)

    report: dict = {"load_average_start": round(os.getloadavg()[0], 2)}
    if args.solo:
        tok = Tokenizer.from_checkpoint(args.solo)
        report["solo"] = evaluate_tokenizer(tok, test_dancers("solo", args.synth / "aistpp", tok.stride))
        print("solo tokenizer (test split):", json.dumps(printable(report["solo"])), flush=True)
    if args.duet:
        tok = Tokenizer.from_checkpoint(args.duet)
        report["duet"] = evaluate_tokenizer(tok, test_dancers("duet", args.synth / "dd100", tok.stride))
        print("duet tokenizer (test split):", json.dumps(printable(report["duet"])), flush=True)
    if args.translation:
        tok = TranslationTokenizer.from_checkpoint(args.translation)
        offsets = test_offsets(args.synth / "dd100", tok.stride, tok.config.batch_key)
        report["translation"] = evaluate_translation(tok, offsets)
        print("translation (test split):", json.dumps(report["translation"]), flush=True)
    if args.ablation_steps > 0:
        try:
            variants = {v: parse_variant(v) for v in args.variants}
        except ValueError as e:
            parser.error(str(e))
        dancers = None
        report["ablation"] = {"config": str(args.ablation_config), "steps": args.ablation_steps, "seed": args.seed}
        for name, over in variants.items():
            start = time.perf_counter()
            tok = train_variant(args.ablation_config, args.synth, args.ablation_steps, over, args.seed)
            seconds = time.perf_counter() - start
            if dancers is None:
                task = tok.config.part_set
                dancers = test_dancers(task, args.synth / ("dd100" if task == "duet" else "aistpp"), tok.stride)
            figures = evaluate_tokenizer(tok, dancers)
            keep = [k for k in figures if k in ABLATION_KEYS or k.startswith("band_ratio/")
                    or k.endswith(("/mpjpe_mm", "/perplexity"))]  # every part's, hands' wrists and fingers too
            report["ablation"][name] = {k: figures[k] for k in keep} | {"overrides": over, "train_s": round(seconds, 1),
                                                                        PSD_KEY: figures[PSD_KEY]}
            print(f"ablation {name}:", json.dumps(printable(report["ablation"][name])), flush=True)
    report["load_average_end"] = round(os.getloadavg()[0], 2)
    if args.plot:
        print("velocity spectra:", plot_spectra(report, args.plot))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))  # with the velocity spectra (the plot's data)
    return report


if __name__ == "__main__":
    main()
