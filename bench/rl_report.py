"""Before vs after actor-critic fine-tuning, on held-out songs the RL stage never saw.

For the test split of the corpus (the RL stage rolls out on the training split only), the supervised
GPT (``--before``) and the fine-tuned one (``--after``) each dance to every song (same sampling, same
seed), and per model:

* mean reward per token, and each term (:mod:`gpt.rewards`, the RL config's weights), the music
  beats being the corpus's ground-truth beat times;
* BAS against the ground-truth beats (Bailando's, :func:`metrics.beat.bailando_bas`);
* foot skating (:mod:`metrics.skating`): the slip rate of feet on the floor and their mean speed;
* FID_k / FID_g against the corpus (``cli.py evaluate``'s code, Bailando's protocol);
* KL(after || before) per step, summed over the parts, on the fine-tuned model's own dances.

    python bench/rl_report.py --synth demo_out/synth --before demo_out/checkpoints/solo_gpt/last.ckpt \\
        --after demo_out/checkpoints/solo_rl/last.ckpt [--out DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data.datasets.aistpp import AISTPPReader, parse_sequence_name  # noqa: E402
from data.formats import save_motion  # noqa: E402
from gpt.pretrained import SoloDancer  # noqa: E402
from gpt.rewards import beat_reward, orientation_reward, skating_reward  # noqa: E402
from gpt.rl import RLConfig  # noqa: E402
from gpt.sampling import SamplingConfig  # noqa: E402
from gpt.solo import shift_right  # noqa: E402
from metrics.beat import bailando_bas  # noqa: E402
from metrics.evaluate import run_evaluate  # noqa: E402
from metrics.skating import foot_skating  # noqa: E402
from training.checkpoint import read_checkpoint  # noqa: E402


def beat_frames(root: Path, name: str, fps: float) -> np.ndarray:
    truth = json.loads((root / "groundtruth" / "music" / f"{parse_sequence_name(name).music_id}.json").read_text())
    return np.round(np.asarray(truth["beat_times"]) * fps).astype(np.int64)


@torch.no_grad()
def kl_per_step(after: SoloDancer, before: SoloDancer, music: list, tokens: list[dict]) -> float:
    """Mean over steps of KL(after || before) (summed over parts) on ``after``'s own tokens."""
    total, steps = 0.0, 0
    for m, t in zip(music, tokens):
        N = next(iter(t.values())).shape[0]
        x = torch.zeros(1, N * after.stride, m.shape[1])
        x[0, :m.shape[0]] = torch.as_tensor(m)
        prev = shift_right({p: v[None] for p, v in t.items()}, after.gpt.start_token)
        genre = torch.zeros(1, N, dtype=torch.long)
        la = after.gpt(after.gpt.music_tokens(x, N), prev, genre)
        lb = before.gpt(before.gpt.music_tokens(x, N), prev, genre)
        for p in la:
            a, b = F.log_softmax(la[p].float(), -1), F.log_softmax(lb[p].float(), -1)
            total += float((a.exp() * (a - b)).sum(-1).sum())
        steps += N
    return total / steps


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", type=Path, default=ROOT / "demo_out" / "synth")
    parser.add_argument("--before", type=Path, required=True, help="the supervised solo GPT checkpoint")
    parser.add_argument("--after", type=Path, required=True, help="the actor-critic checkpoint")
    parser.add_argument("--out", type=Path, default=ROOT / "demo_out" / "rl_report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="test", help="the corpus split danced to (default test)")
    args = parser.parse_args(argv)
    root = args.synth / "aistpp"
    reader = AISTPPReader(root)
    names = reader.sequences(args.split)
    rl = RLConfig(**read_checkpoint(args.after)["hyper_parameters"].get("rl", {}))
    models = {"before": SoloDancer.from_checkpoint(args.before), "after": SoloDancer.from_checkpoint(args.after)}
    music = [models["before"].music_features(reader.music_path(n)).features for n in names]
    rows, dances = {}, {}
    for key, dancer in models.items():
        out = dancer.dance(music, SamplingConfig(), generator=torch.Generator().manual_seed(args.seed), names=names)
        dances[key] = out
        f, fps = dancer.stride, dancer.fps
        rewards = {"beat": [], "skating": [], "orientation": []}
        bas, slip, speed = [], [], []
        folder = args.out / key
        folder.mkdir(parents=True, exist_ok=True)
        for n, d in zip(names, out):
            j = d.motion.joints
            T = (j.shape[0] // f) * f
            beats = beat_frames(root, n, fps)
            onehot = np.zeros((1, T), dtype=bool)
            onehot[0, beats[beats < T]] = True
            rewards["beat"].append(beat_reward(j[None, :T], onehot, f).mean())
            rewards["skating"].append(skating_reward(j[None, :T], fps, f).mean())
            rewards["orientation"].append(orientation_reward(j[None, :T], f).mean())
            bas.append(bailando_bas(j, beats))
            sk = foot_skating(j, fps)
            slip.append(float(sk["slip_rate"]))
            speed.append(float(sk["contact_speed"]))
            d.motion.music, d.motion.name = str(reader.music_path(n)), n
            save_motion(d.motion, folder / f"{n}.npz", "npz")
        scores = run_evaluate("solo", folder, root, beats=root / "groundtruth" / "music")["metrics"]
        terms = {k: float(np.mean(v)) for k, v in rewards.items()}
        total = rl.beat_weight * terms["beat"] + rl.skating_weight * terms["skating"] + rl.orientation_weight * terms["orientation"]
        rows[key] = {"reward": round(total, 4), **{f"reward_{k}": round(v, 4) for k, v in terms.items()},
                     "BAS": round(float(np.mean(bas)), 4), "slip_rate": round(float(np.nanmean(slip)), 4),
                     "contact_speed_m_s": round(float(np.nanmean(speed)), 4),
                     "FID_k": round(scores["FID_k"]["pred"], 2), "FID_g": round(scores["FID_g"]["pred"], 2)}
    rows["after"]["kl_to_before"] = round(kl_per_step(models["after"], models["before"], music,
                                                      [d.tokens for d in dances["after"]]), 5)
    report = {"split": args.split, "sequences": len(names), "before": str(args.before), "after": str(args.after),
              "rows": rows}
    print(f"{'':8s} {'reward':>8s} {'beat':>7s} {'skating':>8s} {'orient':>7s} {'BAS':>7s} {'slip':>6s} "
          f"{'m/s':>6s} {'FID_k':>7s} {'FID_g':>7s} {'KL':>8s}")
    for key, r in rows.items():
        print(f"{key:8s} {r['reward']:8.4f} {r['reward_beat']:7.4f} {r['reward_skating']:8.4f} "
              f"{r['reward_orientation']:7.4f} {r['BAS']:7.4f} {r['slip_rate']:6.3f} {r['contact_speed_m_s']:6.3f} "
              f"{r['FID_k']:7.2f} {r['FID_g']:7.2f} {r.get('kl_to_before', 0.0):8.5f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
