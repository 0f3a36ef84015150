"""``cli.py evaluate`` on the synthetic corpus's test split: against itself, and against corrupted copies.

Writes, under ``--work``: ``gt/`` (the test split as pasdeux npz, exported through ``cli.py convert``),
``noisy/`` (the same dances with Gaussian joint noise, re-derived from noisy joints only), and
``shuffled/`` (the same dances labelled with other songs, so their beats come from the wrong music).
Then runs the evaluate command for each, under the reference protocol and pasdeux's corrected one, and
prints the tables. Usage::

    python cli.py synth --out synth --preset quick
    python bench/metrics_on_synth.py --corpus synth/aistpp --work /tmp/metrics_on_synth
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cli(*args: object) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], capture_output=True,
                         text=True, check=True)
    return out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a synthetic aistpp/ folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/metrics_on_synth"))
    parser.add_argument("--noise", type=float, default=0.02, help="joint noise std in metres")
    args = parser.parse_args()

    from data.datasets.aistpp import AISTPPReader
    from data.formats import load_motion
    from data.motion import Motion, save_npz

    dataset = AISTPPReader(args.corpus)
    names = dataset.sequences("test")
    gt, noisy, shuffled = (args.work / d for d in ("gt", "noisy", "shuffled"))
    for d in (gt, noisy, shuffled):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    musics = [dataset.load(n).music for n in names]
    for i, name in enumerate(names):
        cli("convert", dataset.motion_path(name), "--to", "npz", "--out", gt / f"{name}.npz")
        m = load_motion(gt / f"{name}.npz")
        jittered = m.joints + rng.normal(scale=args.noise, size=m.joints.shape)
        save_npz(Motion(skeleton=m.skeleton, fps=m.fps, joints=jittered, music=m.music, name=name),
                 noisy / f"{name}.npz")
        other = next(mu for mu in musics[i + 1:] + musics[:i] if mu != m.music)
        save_npz(replace(m, music=other), shuffled / f"{name}.npz")
    print(f"{len(names)} test sequences from {args.corpus}\n")

    beats = args.corpus / "all_musics"
    for protocol in ("bailando", "pasdeux-solo"):
        for label, pred in (("identical", gt), (f"noise {args.noise * 100:g} cm", noisy),
                            ("shuffled music", shuffled)):
            print(f"===== {label} vs test split, protocol {protocol} =====")
            print(cli("evaluate", "--task", "solo", "--pred", pred, "--gt", gt, "--beats", beats,
                      "--protocol", protocol, "--cache-dir", args.work / "cache"))


if __name__ == "__main__":
    main()
