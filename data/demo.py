"""``python cli.py demo`` (what ``make demo`` runs): the pipeline end to end on the synthetic corpus.

1. synthesise the quick corpus (AIST++, DD100 and DCM layouts) under ``OUT/synth``;
2. read a held-out solo dance back through the AIST++ reader, extract its music features and beats,
   export it as BVH and npz, and render a preview with its song;
3. read a held-out duet through the DD100 reader and render leader and follower with their song;
4. score the camera track of a held-out DCM piece (pelvis in view);
5. train the quick tokenizers with ``cli.py fit`` and render reconstructions from tokens next to their
   sources (:mod:`tokenizer.demo`).

Later stages extend it (generation). Everything it writes lands under ``OUT``; a summary
is written to ``OUT/demo_summary.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def _step(n: int, total: int, text: str) -> None:
    print(f"[{n}/{total}] {text}", flush=True)


def run_demo(out: str | Path, preset: str = "quick", seed: int = 0) -> dict:
    from data.datasets.aistpp import AISTPPReader
    from data.datasets.dcm import DCMReader
    from data.datasets.dd100 import DD100Reader
    from data.formats import save_motion
    from data.music import compute_features
    from data.render import render_video
    from data.datasets.dcm import metres_to_dcm
    from data.synth.camera import pelvis_in_view_share
    from data.synth.corpus import synth_corpus

    out = Path(out)
    started = time.perf_counter()
    steps = 5
    summary: dict = {}

    # 1. The corpus, in the real datasets' layouts.
    synth_root = out / "synth"
    sizes = synth_corpus(synth_root, preset=preset, seed=seed, log=lambda s: None)
    summary["corpus"] = {k: v for k, v in sizes.items() if k != "seconds"}
    _step(1, steps, f"synthesised the {preset} corpus under {synth_root} in {sizes['seconds']:.1f} s")

    # 2. A held-out solo dance, read back as a user would.
    aist = AISTPPReader(synth_root / "aistpp")
    name = aist.sequences("test")[0]
    motion = aist.load(name)
    song = aist.music_path(name)
    feats = compute_features(song, fps=60, feature_set="bailando438")
    bvh = save_motion(motion, out / f"{name}.bvh", "bvh")
    npz = save_motion(motion, out / f"{name}.npz", "npz")
    solo_video = render_video([motion], out / f"solo_{name}.mp4", music=song, title=f"solo: {name}")
    summary["solo"] = {"sequence": name, "frames": motion.num_frames, "features": list(feats.features.shape),
                       "beats": int(len(feats.beats)), "bvh": str(bvh), "npz": str(npz),
                       "video": str(solo_video)}
    _step(2, steps, f"solo {name}: {motion.num_frames} frames, features {feats.features.shape}, "
                    f"{len(feats.beats)} beats -> {bvh.name}, {npz.name}, {solo_video}")

    # 3. A held-out duet, leader and follower together.
    dd = DD100Reader(synth_root / "dd100")
    duet = dd.duets("test")[0]
    leader, follower = dd.load_pair(duet)
    duet_video = render_video([leader, follower], out / f"duet_{duet}.mp4", music=dd.music_path(duet),
                              title=f"duet: {duet} (blue leader, red follower)")
    summary["duet"] = {"name": duet, "frames": leader.num_frames, "video": str(duet_video)}
    _step(3, steps, f"duet {duet}: {leader.num_frames} frames at {leader.fps:g} fps -> {duet_video}")

    # 4. The camera track of a held-out DCM piece keeps the dancer in view.
    dcm = DCMReader(synth_root / "dcm")
    piece = dcm.sequences("test")[0]
    dance, camera = dcm.load(piece)
    joints_dcm = metres_to_dcm(dance.joints)  # (T, 60, 3) in the camera's units
    square, wide = (pelvis_in_view_share(camera, joints_dcm, aspect) for aspect in (None, 16 / 9))
    summary["camera"] = {"piece": piece, "frames": camera.num_frames, "pelvis_in_view_square": square,
                         "pelvis_in_view_16x9": wide}
    _step(4, steps, f"camera {piece}: pelvis in view in {100 * square:.1f}% (square frustum) / "
                    f"{100 * wide:.1f}% (16:9) of {camera.num_frames} frames")

    # 5. The choreographic memory: quick tokenizers, and motion rebuilt from their tokens.
    from tokenizer.demo import run_tokenizer_demo

    tokens = run_tokenizer_demo(out)
    summary["tokenizer"] = tokens
    _step(5, steps, f"tokenizers trained; from tokens: solo pose MPJPE {tokens['solo_clip']['pose_mpjpe_mm']} mm, "
                    f"duet follower {tokens['duet_clip']['follower']['pose_mpjpe_mm']} mm -> {tokens['solo_video']}, "
                    f"{tokens['duet_video']}")

    summary["seconds"] = round(time.perf_counter() - started, 1)
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=1))
    print(f"done in {summary['seconds']} s; previews: {solo_video}, {duet_video}, {tokens['solo_video']}; "
          f"summary in {out / 'demo_summary.json'}")
    return summary
