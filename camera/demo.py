"""The camera part of ``make demo``: train the quick camera model, then film a held-out dance and the
demo's own solo dance, as a user runs ``cli.py camera``.

:func:`camera_film_step` (after the solo-GPT step, whose dance it films when there is one):

1. ``cli.py fit`` on ``configs/quick/camera.yaml``, paths moved under ``<out>`` (the config run is
   written to ``<out>/configs/``), in a subprocess;
2. ``cli.py camera`` on the first held-out DCM piece (its dance json and song) into
   ``<out>/camera/<piece>/``, and on the solo GPT's first dance to its song into
   ``<out>/camera/<dance>/`` (an SMPL dance at 60 fps: put on the MMD skeleton, a dance.vmd beside
   the camera.vmd);
3. for the held-out piece, DanceCamera3D's dancer missing rate and limb capture difference of the
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
from tokenizer.demo import fit_relocated, run_cli


def film(ckpt: Path, dance: Path, song: Path, out: Path) -> None:
    """``cli.py camera`` as a user runs it."""
    run_cli("camera", "--ckpt", ckpt, "--dance", dance, "--music", song, "--out", out)


def camera_film_step(out: Path) -> tuple[dict, str]:
    """The demo step (see :mod:`demo`): the quick camera model trained, two dances filmed."""
    out = Path(out).resolve()
    summary: dict = {}
    ckpt, summary["camera_fit_s"] = fit_relocated("camera", out, "dcm", {}, "camera demo")
    start = time.perf_counter()
    reader = DCMReader(out / "synth" / "dcm")
    piece = reader.sequences("test")[0]
    folder = out / "camera" / piece
    film(ckpt, reader.motion_path(piece), reader.audio_path(piece), folder)
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
        film(ckpt, solo[0], Path(load_motion(solo[0]).music), folder)
        rows.append({"dance": f"solo GPT dance {solo[0].stem}", "video": str(folder / "camera.mp4"),
                     "vmd": str(folder / "camera.vmd"), "dance_vmd": str(folder / "dance.vmd")})
    summary["films"] = rows
    summary["film_s"] = round(time.perf_counter() - start, 1)
    first = rows[0]
    line = (f"camera: {first['dance']} filmed, dancer missing {100 * first['dmr_16x9']:.1f}% of frames "
            f"(true camera {100 * first['dmr_true_16x9']:.1f}%), limbs captured differently {100 * first['lcd_16x9']:.1f}%"
            f"; {len(rows)} film(s) -> {', '.join(r['video'] for r in rows)}")
    return summary, line


__all__ = ["camera_film_step"]
