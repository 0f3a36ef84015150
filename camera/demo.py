"""The camera part of ``make demo``: the quick camera model (:data:`FITS`, trained by :mod:`demo`
through :func:`training.quick.fit_quick`) films a held-out dance and the demo's own solo dance, as a
user runs ``cli.py camera``.

:func:`film_step` (after the fit and the solo dances, whose first it films when there is one):

1. ``cli.py camera`` on the first held-out DCM piece (its dance json and song) into
   ``<out>/camera/<piece>/``, and on the solo GPT's first dance to its song into
   ``<out>/camera/<dance>/`` (an SMPL dance at 60 fps: put on the MMD skeleton, a dance.vmd beside
   the camera.vmd);
2. for the held-out piece, DanceCamera3D's dancer missing rate and limb capture difference of the
   generated camera against the true one, with the 16:9 frame.
"""

from __future__ import annotations

import time
from pathlib import Path

from data.camera import DEFAULT_ASPECT, load_camera_npz, metres_to_dcm
from data.datasets.dcm import DCMReader
from data.formats import load_motion
from data.synth.camera import bone_visibility
from metrics.camera import dancer_missing_rate, limbs_capture_difference
from training.quick import QuickFit, run_cli

FITS = (QuickFit("camera", "dcm", demo_steps=500),)
"""The quick camera stage and its steps in the demo's short schedule."""


def film(ckpt: Path, dance: Path, song: Path, out: Path, threads: int | None = None) -> None:
    """``cli.py camera`` as a user runs it (its output in ``<out>/../../logs/camera_<name>.log``)."""
    run_cli("camera", "--ckpt", ckpt, "--dance", dance, "--music", song, "--out", out,
            log=out.parents[1] / "logs" / f"camera_{out.name}.log", threads=threads)


def film_step(out: Path, threads: int | None = None) -> tuple[dict, str]:
    """The demo job (see :mod:`demo`): the trained camera model films two dances."""
    out = Path(out).resolve()
    summary: dict = {}
    ckpt = FITS[0].checkpoint(out)
    start = time.perf_counter()
    reader = DCMReader(out / "synth" / "dcm")
    piece = reader.sequences("test")[0]
    folder = out / "camera" / piece
    film(ckpt, reader.motion_path(piece), reader.audio_path(piece), folder, threads)
    track, joints = load_camera_npz(folder / "camera.npz")
    truth = reader.load_camera(piece).slice(0, track.num_frames)
    joints_dcm = metres_to_dcm(joints[:track.num_frames])
    pred = bone_visibility(track, joints_dcm, DEFAULT_ASPECT)
    gt = bone_visibility(truth, joints_dcm, DEFAULT_ASPECT)
    rows = [{"dance": f"held-out DCM piece {piece}", "frames": track.num_frames,
             "dmr_16x9": round(dancer_missing_rate([pred]), 4), "dmr_true_16x9": round(dancer_missing_rate([gt]), 4),
             "lcd_16x9": round(limbs_capture_difference([pred], [gt]), 4), "video": str(folder / "camera.mp4"),
             "vmd": str(folder / "camera.vmd")}]
    solo = sorted((out / "dance").glob("*.npz"))
    if solo:  # the solo GPT step's dance, to its own song
        folder = out / "camera" / solo[0].stem
        film(ckpt, solo[0], Path(load_motion(solo[0]).music), folder, threads)
        rows.append({"dance": f"solo GPT dance {solo[0].stem}", "video": str(folder / "camera.mp4"),
                     "vmd": str(folder / "camera.vmd"), "dance_vmd": str(folder / "dance.vmd")})
    summary["films"] = rows
    summary["film_s"] = round(time.perf_counter() - start, 1)
    first = rows[0]
    line = (f"camera: {first['dance']} filmed, dancer missing {100 * first['dmr_16x9']:.1f}% of frames "
            f"(true camera {100 * first['dmr_true_16x9']:.1f}%), limbs captured differently {100 * first['lcd_16x9']:.1f}%"
            f"; {len(rows)} film(s) -> {', '.join(r['video'] for r in rows)}")
    return summary, line


__all__ = ["FITS", "film", "film_step"]
