"""Before vs after the duet RL, on held-out duets the RL stage never saw.

For the test split of the corpus (the RL stage rolls out on training duets only), the supervised
interaction GPT (``--before``) and the fine-tuned one (``--after``) each follow every test leader to its
song (same sampling, same seed), and per model:

* mean reward per token and each term (:func:`duet.rl.follower_rewards`, the RL config's weights);
* the follower's foot skating (:mod:`metrics.skating`): slip rate of feet on the floor, their speed;
* FID_k, FID_cd, BED and capsule contact against the corpus (``cli.py evaluate``'s duet code);
* KL(after || before) per step, summed over the streams, on the fine-tuned model's own followers.

    python bench/duet_rl_report.py --synth demo_out/synth --before demo_out/checkpoints/duet_gpt/last.ckpt \\
        --after demo_out/checkpoints/duet_rl/last.ckpt [--out DIR] [--seed 0] [--temperature 0.7] [--top-p 0.9]
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

from data.datasets.dd100 import DD100Reader  # noqa: E402
from data.formats import save_motion  # noqa: E402
from duet.pretrained import Follower  # noqa: E402
from duet.rl import DuetRLConfig, follower_rewards  # noqa: E402
from gpt.sampling import SamplingConfig  # noqa: E402
from gpt.solo import shift_right  # noqa: E402
from metrics.evaluate import run_evaluate  # noqa: E402
from metrics.skating import foot_skating  # noqa: E402
from training.checkpoint import read_checkpoint  # noqa: E402


@torch.no_grad()
def kl_per_step(after: Follower, before: Follower, leaders: list[dict], music: list, tokens: list[dict]) -> float:
    """Mean over steps of KL(after || before) (summed over streams) on ``after``'s own tokens."""
    total, steps = 0.0, 0
    for lt, m, t in zip(leaders, music, tokens):
        prev = shift_right({s: v[None] for s, v in t.items()}, after.gpt.start_ids)  # (1, N) each
        (ca, _), (cb, _) = after.conditions([lt], [m]), before.conditions([lt], [m])
        la = after.gpt(ca["music"], prev, leader=ca["leader"])
        lb = before.gpt(cb["music"], prev, leader=cb["leader"])
        for s in la:
            a, b = F.log_softmax(la[s].float(), -1), F.log_softmax(lb[s].float(), -1)
            total += float((a.exp() * (a - b)).sum(-1).sum())
        steps += next(iter(t.values())).shape[0]
    return total / steps


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", type=Path, default=ROOT / "demo_out" / "synth")
    parser.add_argument("--before", type=Path, required=True, help="the supervised interaction GPT checkpoint")
    parser.add_argument("--after", type=Path, required=True, help="the RL checkpoint")
    parser.add_argument("--out", type=Path, default=ROOT / "demo_out" / "duet_rl_report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="test", help="the corpus split followed (default test)")
    parser.add_argument("--temperature", type=float, default=0.7, help="default: cli.py follow's")
    parser.add_argument("--top-p", type=float, default=0.9)
    args = parser.parse_args(argv)
    root = args.synth / "dd100"
    reader = DD100Reader(root)
    names = reader.duets(args.split)
    rl = DuetRLConfig(**read_checkpoint(args.after)["hyper_parameters"].get("rl", {}))
    models = {"before": Follower.from_checkpoint(args.before), "after": Follower.from_checkpoint(args.after)}
    pairs = {n: reader.load_pair(n) for n in names}
    music = [models["before"].music_features(reader.music_path(n)).features for n in names]
    leaders = [pairs[n][0] for n in names]
    leader_tokens = [models["before"].leader_tokens(m) for m in leaders]
    rows, tokens_after = {}, None
    for key, follower in models.items():
        out = follower.follow(leaders, music, SamplingConfig(args.temperature, top_p=args.top_p), generator=torch.Generator().manual_seed(args.seed),
                              names=names)
        if key == "after":
            tokens_after = [d.tokens for d in out]
        terms: dict[str, list] = {}
        slip, speed = [], []
        folder = args.out / key
        folder.mkdir(parents=True, exist_ok=True)
        for n, d, lead in zip(names, out, leaders):
            T = (lead.num_frames // follower.stride) * follower.stride
            r = follower_rewards(follower.tokenizer, follower.translation, rl,
                                 {s: t[None, :T // follower.stride] for s, t in d.tokens.items()},
                                 torch.as_tensor(lead.joints[None, :T], dtype=torch.float32), np.zeros((1, T), bool))
            for k, v in r.items():
                terms.setdefault(k, []).append(float(v.mean()))
            sk = foot_skating(d.motion.joints, follower.fps)
            slip.append(float(sk["slip_rate"]))
            speed.append(float(sk["contact_speed"]))
            for motion, suffix in ((d.motion, "00"), (lead, "01")):
                motion.music, motion.name = n, f"{n}_{suffix}"
                save_motion(motion, folder / f"{n}_{suffix}.npz", "npz")
        met = run_evaluate("duet", folder, root, beats=root / "music" / "mp3" / "all")["metrics"]
        rows[key] = {"reward": round(float(np.mean(terms.pop("total"))), 4),
                     **{f"reward_{k}": round(float(np.mean(v)), 4) for k, v in terms.items()},
                     "slip_rate": round(float(np.nanmean(slip)), 4), "contact_speed_m_s": round(float(np.nanmean(speed)), 4),
                     **{k: round(float(met[k]["pred"]), 3) for k in ("FID_k", "FID_cd", "BED", "contact% (capsule)")}}
    rows["after"]["kl_to_before"] = round(kl_per_step(models["after"], models["before"], leader_tokens, music,
                                                      tokens_after), 5)
    report = {"split": args.split, "duets": len(names), "before": str(args.before), "after": str(args.after),
              "rows": rows}
    cols = list(rows["after"])
    print(" | ".join(["model"] + cols))
    for key, r in rows.items():
        print(" | ".join([key] + [str(r.get(c, "-")) for c in cols]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
