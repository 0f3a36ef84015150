"""The data steps of ``python cli.py demo`` (:mod:`demo` runs them in order, then the model steps).

Each step reads what the one before wrote, as a user would, and returns ``(summary, line)``: what
goes into ``OUT/demo_summary.json`` and the line printed for it.

* :func:`corpus_step`: synthesise the corpus (AIST++, DD100 and DCM layouts) under ``OUT/synth``;
* :func:`solo_step`: read a held-out solo dance back through the AIST++ reader, extract its music
  features and beats, export it as BVH and npz, and render a preview with its song;
* :func:`duet_step`: read a held-out duet through the DD100 reader and render leader and follower
  with their song;
* :func:`camera_step`: score the camera track of a held-out DCM piece (pelvis in view).
"""

from __future__ import annotations

import json
from pathlib import Path

from data.camera import DEFAULT_ASPECT, metres_to_dcm
from data.datasets.aistpp import AISTPPReader
from data.datasets.dcm import DCMReader
from data.datasets.dd100 import DD100Reader
from data.formats import save_motion
from data.io import atomic_output
from data.music import compute_features
from data.render import render_video
from data.synth.camera import pelvis_in_view_share
from data.synth.corpus import synth_corpus

CORPORA = ("aistpp", "dd100", "dcm")


def corpus_step(out: Path, preset: str = "quick", seed: int = 0, fingerprint: str | None = None
                ) -> tuple[dict, str]:
    """The corpus, in the real datasets' layouts, under ``out/synth``. With a ``fingerprint`` (what the
    corpus depends on: preset, seed, code), a corpus written under the same one is reused."""
    synth_root = out / "synth"
    stamp = synth_root / "fingerprint.json"
    if fingerprint is not None and stamp.is_file() and all((synth_root / c).is_dir() for c in CORPORA):
        try:
            previous = json.loads(stamp.read_text())
        except ValueError:
            previous = {}
        if previous.get("fingerprint") == fingerprint:
            return previous["sizes"], f"the {preset} corpus under {synth_root} is unchanged: reused"
    if stamp.exists():
        stamp.unlink()
    sizes = synth_corpus(synth_root, preset=preset, seed=seed, log=lambda s: None)
    summary = {k: v for k, v in sizes.items() if k != "seconds"}
    if fingerprint is not None:
        with atomic_output(stamp) as tmp:
            tmp.write_text(json.dumps({"fingerprint": fingerprint, "sizes": summary}))
    return summary, f"synthesised the {preset} corpus under {synth_root} in {sizes['seconds']:.1f} s"


def solo_step(out: Path) -> tuple[dict, str]:
    """A held-out solo dance, read back as a user would: features, BVH, npz and a preview."""
    aist = AISTPPReader(out / "synth" / "aistpp")
    name = aist.sequences("test")[0]
    motion = aist.load(name)
    song = aist.music_path(name)
    feats = compute_features(song, fps=60, feature_set="bailando438")
    bvh = save_motion(motion, out / f"{name}.bvh", "bvh")
    npz = save_motion(motion, out / f"{name}.npz", "npz")
    video = render_video([motion], out / f"solo_{name}.mp4", music=song, title=f"solo: {name}")
    summary = {"sequence": name, "frames": motion.num_frames, "features": list(feats.features.shape),
               "beats": int(len(feats.beats)), "bvh": str(bvh), "npz": str(npz), "video": str(video)}
    return summary, (f"solo {name}: {motion.num_frames} frames, features {feats.features.shape}, "
                     f"{len(feats.beats)} beats -> {bvh.name}, {npz.name}, {video}")


def duet_step(out: Path) -> tuple[dict, str]:
    """A held-out duet, leader and follower together in one preview."""
    dd = DD100Reader(out / "synth" / "dd100")
    duet = dd.duets("test")[0]
    leader, follower = dd.load_pair(duet)
    video = render_video([leader, follower], out / f"duet_{duet}.mp4", music=dd.music_path(duet),
                         title=f"duet: {duet} (blue leader, red follower)")
    summary = {"name": duet, "frames": leader.num_frames, "video": str(video)}
    return summary, f"duet {duet}: {leader.num_frames} frames at {leader.fps:g} fps -> {video}"


def camera_step(out: Path) -> tuple[dict, str]:
    """The camera track of a held-out DCM piece keeps the dancer in view."""
    dcm = DCMReader(out / "synth" / "dcm")
    piece = dcm.sequences("test")[0]
    dance, camera = dcm.load(piece)
    joints_dcm = metres_to_dcm(dance.joints)  # (T, 60, 3) in the camera's units
    square, wide = (pelvis_in_view_share(camera, joints_dcm, aspect) for aspect in (None, DEFAULT_ASPECT))
    summary = {"piece": piece, "frames": camera.num_frames, "pelvis_in_view_square": square,
               "pelvis_in_view_16x9": wide}
    return summary, (f"camera {piece}: pelvis in view in {100 * square:.1f}% (square frustum) / "
                     f"{100 * wide:.1f}% (16:9) of {camera.num_frames} frames")


__all__ = ["corpus_step", "solo_step", "duet_step", "camera_step"]
