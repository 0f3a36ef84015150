"""``cli.py evaluate``: score a folder of generated sequences against a reference set, under a named protocol.

::

    python cli.py evaluate --task solo|duet|camera --pred DIR --gt DIR [--protocol NAME] [--out FILE.json]
                           [--beats DIR] [--cache-dir DIR] [--no-cache] [--smplx-models DIR]

Every run prints a table headed by the metrics version and the protocol (its name and every setting
that changes a number) and writes the same as json (atomically) when ``--out`` is given. This module
runs the command; the parts are :mod:`metrics.protocols` (the named protocols), :mod:`metrics.inputs`
(what is read), :mod:`metrics.music_beats` (beats for BAS), :mod:`metrics.cache` (the feature
cache), :mod:`metrics.tasks` (per-task features and scores) and :mod:`metrics.report` (table, json).

Protocols (:data:`metrics.protocols.PROTOCOLS`; ``--protocol`` defaults to the task's reference
protocol so published numbers stay comparable):

===================  ======  =================================================================
name                 task    what
===================  ======  =================================================================
``bailando``         solo    Bailando / AIST++ (metrics_new.py, beat_align_score.py): legacy
                             features at 1/60 s, predictions cropped to 1200 frames, reference
                             full length, first-frame root at the origin, z-scored with reference
                             statistics, reference = all sequences; BAS σ = 3 frames
``pasdeux-solo``     solo    corrected features, everything resampled to 60 fps, both sets cropped
                             to 1200 frames (20 s), beat parameters in seconds
``duolando``         duet    Duolando / DD100 (metrics.py, metrics_duet.py): legacy features at
                             1/60 s on 30 fps data, 24-joint reduction, reference = all duets
``pasdeux-duet``     duet    corrected features at the data's frame rate, beat parameters in seconds
``dancecamera3d``    camera  DanceCamera3D / DCM (evaluate.py): 75-frame chunks, Δ = 1/30 s, square
                             frustum, reference = the test split
``pasdeux-camera``   camera  the same with the real 16:9 frame for the shot features
===================  ======  =================================================================

Inputs
------
* **solo**: a folder of motion files (pasdeux ``.npz``, AIST++ ``.pkl``, DD100 ``.npy``, ``.bvh``;
  read by :func:`data.formats.load_motion`), ``smpl24`` or ``smplx55``; or an AIST++ root (``motions/``,
  ``splits/``, ``ignore_list.txt``): as ``--pred`` its test split (crossmodal test + val, Bailando's
  40), as ``--gt`` the protocol's reference set (all non-ignored sequences, or the test split).
* **duet**: a folder of pairs ``<name>_00.<ext>`` (follower) and ``<name>_01.<ext>`` (leader), DD100's
  naming; or a DD100 root (``motion/smplx/...``). Duolando's own result files, ``(T, 165)`` joint-position
  ``.npy`` arrays, are read as they are (positions only). With ``--smplx-models`` every joint of a file
  with rotations is taken from the SMPL-X body model of the file's gender (neutral without one) and
  its betas, as Duolando's preprocessing computes them, and contact is also measured on the meshes.
* **camera**: a folder of camera files, paired with the reference by name: DCM ``c<id>.json``
  CameraCentric files or DanceCamera3D result files (``camera_eye``, ``camera_x/y/z``, ``Fov``; named
  ``c<id>``; both read by :func:`data.datasets.dcm.read_camera_json`), or pasdeux camera npz files
  (``camera`` (N, 8) polar, ``fps``, optional dancer ``joints`` in metres; the layout is in
  :mod:`data.camera`, read by :func:`data.camera.load_camera_npz`). A generated camera without
  ``joints`` is scored with the reference dancer of the same name (as DanceCamera3D does). Or a DCM
  root (``amc_data_split_by_categories/``, ``split/``).

Beats (for BAS): ``--beats DIR`` holds, per sequence or per song, ``<name>.npz`` (``cli.py features``
output: ``beat_times`` in seconds, or ``beats`` frame indices with ``fps``), ``<name>.json`` (a list of
beat times in seconds, a dict with ``beats`` / ``beat_times`` in seconds, or Bailando's
``music_array`` whose column 53 is the 60 fps beat one-hot) or an audio file (beats computed by
:func:`data.music.compute_features`, cached). A sequence is looked up by its file stem, then by its
motion's ``music`` (path or id). Dataset roots supply their own music. Without beats BAS is ``n/a``
(:mod:`metrics.music_beats`).

Cache: per-sequence features are cached in ``--cache-dir`` (default ``$PASDEUX_CACHE/metrics`` or
``~/.cache/pasdeux/metrics``), keyed by the content hash of the input file(s), the metrics version
and every protocol setting the features depend on, so a second run over the same reference set only
hashes its files.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from data.errors import InputError
from data.io import atomic_output
from metrics import METRICS_VERSION
from metrics.cache import FeatureCache, metrics_cache_dir
from metrics.music_beats import BeatFinder
from metrics.protocols import get_protocol
from metrics.report import format_table, nan_to_none, protocol_lines
from metrics.tasks import evaluate_camera, evaluate_duet, evaluate_solo


def run_evaluate(task: str, pred: str | os.PathLike, gt: str | os.PathLike, protocol: str | None = None,
                 out: str | os.PathLike | None = None, beats: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                 smplx_models: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run one evaluation; returns the result dict (also written to ``out`` as json when given).

    In the returned dict an undefined score is NaN and a score that does not apply is None; the json
    writes both as null.
    """
    proto = get_protocol(protocol, task)
    cache_path = metrics_cache_dir(cache_dir) if use_cache else None
    cache = FeatureCache(cache_path)
    pred_dir, gt_dir = Path(pred), Path(gt)
    if out is not None and Path(out).is_dir():
        raise InputError(out, "is a folder", "give a file name for --out, e.g. scores.json")
    if task == "solo":
        body = evaluate_solo(pred_dir, gt_dir, proto, cache, BeatFinder(_opt(beats), None))
    elif task == "duet":
        model = None
        if smplx_models is not None:
            from data.body_model import BodyModels  # torch and smplx: only with model files

            model = BodyModels(smplx_models, model_type="smplx")
        body = evaluate_duet(pred_dir, gt_dir, proto, cache, BeatFinder(_opt(beats), None), model)
    else:
        if beats is not None:
            warnings.warn("--beats is not used by the camera task", RuntimeWarning, stacklevel=2)
        body = evaluate_camera(pred_dir, gt_dir, proto, cache)
    result = {
        "metrics_version": METRICS_VERSION,
        "task": task,
        "protocol": proto.settings(),
        "protocol_lines": protocol_lines(proto),
        **body,
        "cache": {"dir": None if cache_path is None else str(cache_path), "hits": cache.hits,
                  "computed": cache.computed},
    }
    if out is not None:
        with atomic_output(out) as tmp:
            # undefined scores (NaN) become null: strict json has no NaN
            tmp.write_text(json.dumps(nan_to_none(result), indent=2, ensure_ascii=False, allow_nan=False),
                           encoding="utf-8")
    return result


def _opt(p: str | os.PathLike | None) -> Path | None:
    return None if p is None else Path(p)


def main(args) -> int:
    """What ``cli.py evaluate`` runs (``args`` from its argparse sub-parser)."""
    result = run_evaluate(args.task, args.pred, args.gt, protocol=args.protocol, out=args.out, beats=args.beats,
                          cache_dir=args.cache_dir, use_cache=not args.no_cache, smplx_models=args.smplx_models)
    print(format_table(result))
    if args.out is not None:
        print(f"  written: {args.out}")
    sys.stdout.flush()
    return 0
