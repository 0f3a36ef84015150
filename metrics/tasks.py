"""Scoring one task: per-sequence features (through the cache), then the set-level rows of the report.

* solo (:func:`evaluate_solo`): FID_k / FID_g / Div_k / Div_g, BAS, BeatAlign, PFC;
* duet (:func:`evaluate_duet`): the follower's FID / Div, FID_cd / Div_cd, BAS, BED, foot slip,
  contact, PFC;
* camera (:func:`evaluate_camera`): FID_k / FID_s / Div_k / Div_s, DMR and LCD on the square and
  the real frame.

Solo and duet share one skeleton (:func:`score_motion_sets`): find both sets, load each item's
features through the cache (an item is loaded only on a miss) and score its beats; the task
functions only add their own rows. Each returns the task's part of the result dict: ``metrics``
(name -> ``pred``, ``reference``, ``definition``), ``pred`` and ``reference`` (what was read),
``notes`` and, for solo and duet, ``per_sequence``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from data.camera import DEFAULT_ASPECT, CameraTrack, dcm_to_metres, visibility_mask
from data.contact import capsule_contact
from data.errors import InputError
from data.skeleton import to_smpl24
from metrics.beat import (bailando_motion_beats, fact_motion_beats, mean_score, motion_centric_score,
                          music_centric_score, pfc_score, pfc_sequence)
from metrics.cache import FeatureCache
from metrics.camera import camera_kinetic_chunks, dancer_missing_rate, limbs_capture_difference, shot_features
from metrics.duet import (beat_echo_degree, body_vertices, cross_distance_features, mesh_contact, pooled_rate,
                          slip_frames_corrected, slip_frames_reference)
from metrics.features import geometric_features, kinetic_features, resample, zero_start
from metrics.fid import fid_and_div
from metrics.inputs import CameraWithDancer, Item, camera_items, check_items, duet_items, solo_items
from metrics.music_beats import BeatFinder, music_names
from metrics.protocols import Protocol

if TYPE_CHECKING:  # torch and smplx load only when a model folder is given (run_evaluate)
    from data.body_model import BodyModels

ROLES = ("pred", "reference")


# --------------------------------------------------------------------------------------------------
# Shared by the tasks
# --------------------------------------------------------------------------------------------------
def _progress(items: list, desc: str):
    from tqdm import tqdm  # only when a task runs: keeps `import metrics.tasks` light

    return tqdm(items, desc=desc, unit="seq", disable=True if len(items) < 8 else None, leave=False)


def fid_rows(pred: np.ndarray, ref: np.ndarray, label: str, what: str, notes: list[str],
             protocol: Protocol) -> dict[str, dict]:
    """The ``FID_<label>`` and ``Div_<label>`` rows of (N, D) generated vs reference features; notes appended."""
    r = fid_and_div(pred, ref, drop_constant=protocol.drop_constant_dims)
    if r["constant_dims"]:
        how = ("left out of FID_{0} / Div_{0}" if protocol.drop_constant_dims else
               "z-scored by 1e-10 as the reference does, so they can dominate FID_{0} / Div_{0}").format(label)
        notes.append(f"FID_{label}: {r['constant_dims']} of {pred.shape[1]} dimensions are constant over the reference "
                     f"set, {how}")
    if r["fid_fallback"]:
        notes.append(f"FID_{label}: sqrtm was not finite; 1e-5·I added to both covariances (reference fallback)")
    if r["fid_imag"] > 1e-3:
        notes.append(f"FID_{label}: discarded an imaginary part of {r['fid_imag']:.3g} in sqrtm (real part kept)")
    if pred.shape[0] <= pred.shape[1]:
        notes.append(f"FID_{label}: {pred.shape[0]} generated vectors in {pred.shape[1]} dimensions, so the "
                     "generated covariance is rank-deficient")
    return {
        f"FID_{label}": {"pred": r["fid"], "reference": None,
                         "definition": f"Fréchet distance on {what}, z-scored with reference statistics"},
        f"Div_{label}": {"pred": r["div"], "reference": r["div_reference"],
                         "definition": f"mean pairwise L2 distance of the z-scored {what}"},
    }


# --------------------------------------------------------------------------------------------------
# Solo and duet: one skeleton
# --------------------------------------------------------------------------------------------------
@dataclass
class MotionSet:
    """One set of motions (generated or reference) as scored: per-item features and beat scores."""

    folder: Path
    kind: str
    """Where the items came from (``folder``, ``AIST++ root, ...``)."""
    names: list[str] = field(default_factory=list)
    feats: list[dict[str, np.ndarray]] = field(default_factory=list)
    """Per item, the cached feature arrays (what the task's compute function returns)."""
    bas: dict[str, float] = field(default_factory=dict)
    """Per item, Bailando's music-beat-centric BAS (NaN without beats)."""
    fact: dict[str, float] = field(default_factory=dict)
    """Per item, FACT's motion-beat-centric score (NaN without beats)."""
    with_beats: int = 0
    """Items a music beat track was found for."""
    fps: set[float] = field(default_factory=set)
    """The frame rates the features were computed at."""

    def stack(self, key: str) -> np.ndarray:
        """(N, D) the per-item feature ``key`` of every item."""
        return np.stack([f[key] for f in self.feats])

    def summary(self) -> dict[str, Any]:
        return {"dir": str(self.folder), "kind": self.kind, "count": len(self.names), "with_beats": self.with_beats}


def _solo_joints(motion, path_for_errors) -> np.ndarray:
    try:
        return to_smpl24(motion.joints, motion.skeleton)
    except ValueError:
        raise InputError(path_for_errors, f"skeleton {motion.skeleton} has no SMPL joints for the motion features",
                         "give smpl24 or smplx55 motions") from None


def _pfc_input(x: np.ndarray, fps: float, protocol: Protocol) -> np.ndarray:
    return resample(x, fps, protocol.pfc_fps)


def _beat_scores(feats: dict[str, np.ndarray], times: np.ndarray | None, protocol: Protocol) -> tuple[float, float]:
    """(BAS, FACT) of one sequence from its cached motion beats and the music beat ``times`` (s)."""
    if times is None:
        return float("nan"), float("nan")
    fps = float(feats["fps"])
    n = int(feats["beat_frames"])
    beats = np.round(np.asarray(times) * fps).astype(np.int64)
    # bailando_bas / fact_beat_align, rebuilt from the cached motion beats with the same truncations
    bas = music_centric_score(beats[(beats >= 0) & (beats < n - 1)], feats["bailando_beats"],
                              protocol.frames(protocol.bas_sigma, fps))
    fact = motion_centric_score(beats[(beats >= 0) & (beats < n)], feats["fact_beats"],
                                protocol.frames(protocol.fact_sigma, fps))
    return bas, fact


def score_motion_sets(find_items: Callable[[Path, str], tuple[list[Item], str]], pred_dir: Path, gt_dir: Path,
                      protocol: Protocol, cache: FeatureCache, beats: BeatFinder,
                      compute: Callable[[Item, Any, str], dict[str, np.ndarray]], what: str, progress: str,
                      settings: dict[str, Any] | None = None) -> dict[str, MotionSet]:
    """Both sets of a motion task, featurised and beat-scored.

    Args:
        find_items: :func:`metrics.inputs.solo_items` or :func:`metrics.inputs.duet_items`.
        compute: ``(item, loaded item, role) -> feature arrays``; called only on a cache miss. The
            arrays must hold ``fps``, ``music``, ``beat_frames``, ``bailando_beats`` and ``fact_beats``.
        what: the items in error messages (``sequences``, ``duets``).
        progress: the progress bar's label after the role.
        settings: extra settings the features depend on (joined to the cache key).

    Returns:
        ``{"pred": MotionSet, "reference": MotionSet}``.
    """
    pred_items, pred_kind = find_items(pred_dir, "test")
    gt_items, gt_kind = find_items(gt_dir, protocol.reference_set)
    check_items(pred_items, pred_dir, f"generated {what}")
    check_items(gt_items, gt_dir, f"reference {what}")
    sets = {"pred": MotionSet(pred_dir, pred_kind), "reference": MotionSet(gt_dir, gt_kind)}
    for role, items in (("pred", pred_items), ("reference", gt_items)):
        s = sets[role]
        key_settings = {**protocol.feature_settings(role), **(settings or {})}
        for item in _progress(items, f"{role} {progress}"):
            # called at once (the item is loaded only on a cache miss)
            f = cache.get_or_compute(cache.key(item.files, key_settings), lambda: compute(item, item.load(), role))
            s.names.append(item.name)
            s.feats.append(f)
            s.fps.add(float(f["fps"]))
            times, src = beats.times(*music_names(item, str(f["music"])))
            s.with_beats += bool(src)
            s.bas[item.name], s.fact[item.name] = _beat_scores(f, times, protocol)
    return sets


def _fps_notes(sets: dict[str, MotionSet], protocol: Protocol, what: str, consequence: str = "") -> list[str]:
    """Notes for sets whose frame rate is not the protocol's (when it does not resample)."""
    notes = []
    if protocol.resample_fps is None:
        for role in ROLES:
            other = sets[role].fps - {protocol.data_fps}
            if other:
                notes.append(f"{role}: {what} at {sorted(other)} fps; the {protocol.name} protocol is defined at "
                             f"{protocol.data_fps:g} fps{consequence}")
    return notes


# --------------------------------------------------------------------------------------------------
# Solo
# --------------------------------------------------------------------------------------------------
def _solo_compute(item: Item, motion, protocol: Protocol, role: str) -> dict[str, np.ndarray]:
    x = _solo_joints(motion, item.files[0])
    fps = float(motion.fps)
    if protocol.resample_fps is not None:
        x, fps = resample(x, fps, protocol.resample_fps), float(protocol.resample_fps)
    full = x
    if protocol.crop_frames is not None and (role == "pred" or protocol.crop_reference):
        x = x[: protocol.crop_frames]
    if x.shape[0] < 3:
        raise InputError(item.files[0], f"only {x.shape[0]} frames", "metrics need at least 3 frames")
    feat_in = zero_start(x) if protocol.zero_start else x
    beat_in = full if protocol.beats_before_crop else x
    return {
        "kinetic": kinetic_features(feat_in, fps, legacy=protocol.legacy),
        "geometric": geometric_features(feat_in, fps, legacy=protocol.legacy),
        "bailando_beats": bailando_motion_beats(beat_in, protocol.frames(protocol.bas_smoothing, fps)),
        "fact_beats": fact_motion_beats(beat_in, max(1, int(round(protocol.frames(protocol.fact_order, fps))))),
        "beat_frames": np.asarray(beat_in.shape[0]),
        "pfc": np.asarray(pfc_sequence(_pfc_input(x, fps, protocol), protocol.pfc_fps)),
        "fps": np.asarray(fps),
        "music": np.asarray(str(motion.music or "")),
    }


def evaluate_solo(pred_dir: Path, gt_dir: Path, protocol: Protocol, cache: FeatureCache,
                  beats: BeatFinder) -> dict[str, Any]:
    sets = score_motion_sets(solo_items, pred_dir, gt_dir, protocol, cache, beats,
                             lambda item, motion, role: _solo_compute(item, motion, protocol, role),
                             what="sequences", progress="features")
    notes = _fps_notes(sets, protocol, "motions", " (its 1/60 s frame time is applied as is)")
    pred, ref = sets["pred"], sets["reference"]
    metrics = {}
    metrics.update(fid_rows(pred.stack("kinetic"), ref.stack("kinetic"), "k", "kinetic features (72-d)", notes,
                            protocol))
    metrics.update(fid_rows(pred.stack("geometric"), ref.stack("geometric"), "g", "geometric features (32-d)",
                            notes, protocol))
    metrics = {k: metrics[k] for k in ("FID_k", "FID_g", "Div_k", "Div_g")}
    bas_row, fact_row = {}, {}
    for role in ROLES:
        bas_row[role], skipped = mean_score(sets[role].bas.values())
        fact_row[role], _ = mean_score(sets[role].fact.values())
        if skipped and sets[role].with_beats:
            notes.append(f"{role}: {skipped} sequence(s) without a usable beat track left out of BAS")
    metrics["BAS"] = {**bas_row, "definition": "Bailando, music-beat-centric: mean over music beats of "
                                               "exp(-d²/2σ²) to the nearest motion beat"}
    metrics["BeatAlign"] = {**fact_row, "definition": "FACT, motion-beat-centric: mean over motion beats of "
                                                      "exp(-d²/2σ²) to the nearest music beat"}
    metrics["PFC"] = {"pred": pfc_score(f["pfc"] for f in pred.feats),
                      "reference": pfc_score(f["pfc"] for f in ref.feats),
                      "definition": "EDGE physical foot contact x 10⁴ (lower is better)"}
    return {
        "metrics": metrics,
        "pred": pred.summary(),
        "reference": ref.summary(),
        "per_sequence": {"pred": {"BAS": pred.bas, "BeatAlign": pred.fact}},
        "notes": notes,
    }


# --------------------------------------------------------------------------------------------------
# Duet
# --------------------------------------------------------------------------------------------------
def _duet_compute(item: Item, pair, protocol: Protocol, role: str,
                  body_model: BodyModels | None) -> dict[str, np.ndarray]:
    follower, leader = pair
    if body_model is not None:  # every joint from the body model, each file's gender and betas (Duolando)
        follower, leader = (replace(m, joints=body_model.joints(m).astype(np.float64)) if m.rotations is not None else m
                            for m in (follower, leader))
    fx = _solo_joints(follower, item.files[0])
    lx = _solo_joints(leader, item.files[1])
    fall, lall = follower.joints, leader.joints  # all joints of the files (55 for SMPL-X), as Duolando
    fps = float(follower.fps)
    if protocol.resample_fps is not None:
        fx, lx, fall, lall = (resample(a, fps, protocol.resample_fps) for a in (fx, lx, fall, lall))
        fps = float(protocol.resample_fps)
    crop = protocol.crop_frames if (role == "pred" or protocol.crop_reference) else None
    if crop is not None:
        fx, lx, fall, lall = fx[:crop], lx[:crop], fall[:crop], lall[:crop]
    if min(fx.shape[0], lx.shape[0]) < 3:
        raise InputError(item.files[0], "fewer than 3 frames", "metrics need at least 3 frames")
    feat_in = zero_start(fx) if protocol.zero_start else fx
    sigma, smooth = protocol.frames(protocol.bas_sigma, fps), protocol.frames(protocol.bas_smoothing, fps)
    slip_ref_f = slip_frames_reference(fall)
    slip_ref_l = slip_frames_reference(lall)
    slip_cor = slip_frames_corrected(fx, fps)
    contact = capsule_contact(fx, lx, protocol.contact_margin)
    out = {
        "kinetic": kinetic_features(feat_in, fps, legacy=protocol.legacy),
        "geometric": geometric_features(feat_in, fps, legacy=protocol.legacy),
        # key joints are body joints (<= 21), identical in the 24-joint reduction; world coordinates
        "cross": cross_distance_features(fx, lx),
        "bed": np.asarray(beat_echo_degree(fall, lall, sigma=sigma, smoothing=smooth)),
        "bailando_beats": bailando_motion_beats(fall, smooth),
        "fact_beats": fact_motion_beats(fall, max(1, int(round(protocol.frames(protocol.fact_order, fps))))),
        "beat_frames": np.asarray(fall.shape[0]),
        "slip_reference": np.asarray([slip_ref_f[0] + slip_ref_l[0], slip_ref_f[1] + slip_ref_l[1]]),
        "slip_corrected": np.asarray(slip_cor),
        "contact_capsule": np.asarray([int(contact.sum()), int(contact.shape[0])]),
        "pfc": np.asarray(pfc_sequence(_pfc_input(fx, fps, protocol), protocol.pfc_fps)),
        "fps": np.asarray(fps),
        "music": np.asarray(str(follower.music or leader.music or "")),
    }
    if body_model is not None and follower.rotations is not None and leader.rotations is not None:
        hit = mesh_contact(body_vertices(follower, body_model), body_vertices(leader, body_model),
                           protocol.contact_margin)
        out["contact_mesh"] = np.asarray([int(hit.sum()), int(hit.shape[0])])
    return out


def evaluate_duet(pred_dir: Path, gt_dir: Path, protocol: Protocol, cache: FeatureCache, beats: BeatFinder,
                  body_model: BodyModels | None = None) -> dict[str, Any]:
    sets = score_motion_sets(duet_items, pred_dir, gt_dir, protocol, cache, beats,
                             lambda item, pair, role: _duet_compute(item, pair, protocol, role, body_model),
                             what="duets", progress="duets",
                             settings={"mesh": None if body_model is None else str(body_model.model_path)})
    notes = _fps_notes(sets, protocol, "duets")
    pred, ref = sets["pred"], sets["reference"]
    metrics: dict[str, dict] = {}
    metrics.update(fid_rows(pred.stack("kinetic"), ref.stack("kinetic"), "k",
                            "follower kinetic features (72-d)", notes, protocol))
    metrics.update(fid_rows(pred.stack("geometric"), ref.stack("geometric"), "g",
                            "follower geometric features (32-d)", notes, protocol))
    metrics.update(fid_rows(pred.stack("cross"), ref.stack("cross"), "cd",
                            "leader-follower 10x10 key-joint distances (100-d)", notes, protocol))
    metrics = {k: metrics[k] for k in ("FID_k", "FID_g", "FID_cd", "Div_k", "Div_g", "Div_cd")}
    row = lambda fn: {r: fn(sets[r]) for r in ROLES}  # noqa: E731
    metrics["BAS"] = {**row(lambda s: mean_score(s.bas.values())[0]),
                      "definition": "follower vs music, Bailando's music-beat-centric form"}
    metrics["BED"] = {**row(lambda s: mean_score(float(f["bed"]) for f in s.feats)[0]),
                      "definition": "beat echo degree: leader's motion beats echoed by the follower's"}
    metrics["slip% (ref)"] = {**row(lambda s: pooled_rate(f["slip_reference"] for f in s.feats)),
                              "definition": "Duolando foot skating: pelvis > 0.03 m/frame (z zeroed), both "
                                            "ankles < 0.01 m/frame; pooled over followers and leaders"}
    metrics["slip% (corr)"] = {**row(lambda s: pooled_rate(f["slip_corrected"] for f in s.feats)),
                               "definition": "horizontal pelvis > 0.9 m/s, ankles < 0.3 m/s; followers only"}
    metrics["contact% (capsule)"] = {**row(lambda s: pooled_rate(f["contact_capsule"] for f in s.feats)),
                                     "definition": f"frames where body capsules come within "
                                                   f"{100 * protocol.contact_margin:g} cm"}
    if body_model is not None:
        ok = {r: [f["contact_mesh"] for f in sets[r].feats if "contact_mesh" in f] for r in ROLES}
        metrics["contact% (mesh)"] = {**{r: pooled_rate(v) if v else float("nan") for r, v in ok.items()},
                                      "definition": f"frames where SMPL-X vertices come within "
                                                    f"{100 * protocol.contact_margin:g} cm"}
        for r, v in ok.items():
            if len(v) < len(sets[r].feats):
                notes.append(f"{r}: {len(sets[r].feats) - len(v)} duet(s) without rotations have no mesh contact")
    metrics["PFC"] = {**row(lambda s: pfc_score(f["pfc"] for f in s.feats)),
                      "definition": "EDGE physical foot contact of the follower x 10⁴"}
    return {
        "metrics": metrics,
        "pred": pred.summary(),
        "reference": ref.summary(),
        "per_sequence": {"pred": {"BAS": pred.bas,
                                  "BED": {n: float(f["bed"]) for n, f in zip(pred.names, pred.feats)}}},
        "notes": notes,
    }


# --------------------------------------------------------------------------------------------------
# Camera
# --------------------------------------------------------------------------------------------------
def _camera_compute(track: CameraTrack, joints: np.ndarray, protocol: Protocol) -> dict[str, np.ndarray]:
    n = min(track.num_frames, joints.shape[0])  # DCM's camera is one frame shorter than its motion
    joints = joints[:n]
    # the eye stays in MMD units for the kinetic features, as the reference reads it from its json
    eye, right, up, fwd = (a[:n] for a in track.frame())  # (n, 3) each, DCM's frame
    fov = track.fov[:n]
    dt = protocol.camera_frame_time if protocol.camera_frame_time is not None else 1.0 / track.fps
    eye_m = dcm_to_metres(eye)  # the frame the dancer's joints are in
    square = visibility_mask(joints, eye_m, right, up, fwd, fov, None)
    aspect = DEFAULT_ASPECT if protocol.aspect is None else protocol.aspect
    wide = visibility_mask(joints, eye_m, right, up, fwd, fov, aspect)
    mask = square if protocol.aspect is None else wide
    return {
        "kinetic": camera_kinetic_chunks(eye, fwd, up, right, fov, protocol.chunk_frames, dt),
        "shot": shot_features(joints, eye_m, right, up, fwd, fov, mask, protocol.aspect),
        "mask_square": square,
        "mask_aspect": wide,
    }


def evaluate_camera(pred_dir: Path, gt_dir: Path, protocol: Protocol, cache: FeatureCache) -> dict[str, Any]:
    pred_items, pred_kind = camera_items(pred_dir, "test")
    gt_items, gt_kind = camera_items(gt_dir, protocol.reference_set)
    check_items(pred_items, pred_dir, "generated cameras")
    check_items(gt_items, gt_dir, "reference cameras")
    notes: list[str] = []
    gt_by_name = {i.name: i for i in gt_items}
    missing = [i.name for i in pred_items if i.name not in gt_by_name]
    gt_loaded: dict[str, CameraWithDancer] = {}

    def gt_camera(name: str) -> CameraWithDancer:
        if name not in gt_loaded:
            gt_loaded[name] = gt_by_name[name].load()
        return gt_loaded[name]

    feats: dict[str, dict[str, dict]] = {"pred": {}, "reference": {}}
    aspect = DEFAULT_ASPECT if protocol.aspect is None else protocol.aspect
    aspect_tag = "16:9" if abs(aspect - 16.0 / 9.0) < 1e-9 else f"{aspect:.3g}:1"
    for role, items in (("reference", gt_items), ("pred", pred_items)):
        settings = protocol.feature_settings(role)
        for item in _progress(items, f"{role} cameras"):
            files = list(item.files)
            borrow = None
            if role == "pred":
                # the joints may come from the reference of the same name: hash that file too
                if item.name in gt_by_name:
                    files += gt_by_name[item.name].files
                borrow = item.name

            def compute(item=item, borrow=borrow):
                camera = item.load()
                joints = camera.joints
                if joints is None:
                    if borrow not in gt_by_name:
                        raise InputError(item.files[0], "camera has no 'joints' and no reference of the same name "
                                                        "to take the dancer from", "store the dancer's joints")
                    joints = gt_camera(borrow).joints
                    if joints is None:
                        raise InputError(gt_by_name[borrow].files[0], "reference camera has no dancer joints",
                                         "store 'joints' in the reference camera npz")
                return _camera_compute(camera.track, joints, protocol)

            feats[role][item.name] = cache.get_or_compute(cache.key(files, settings), compute)
    if missing:
        notes.append(f"{len(missing)} generated camera(s) have no reference of the same name (no LCD for them), "
                     f"first {missing[0]!r}")
    pk = np.concatenate([f["kinetic"] for f in feats["pred"].values()])
    rk = np.concatenate([f["kinetic"] for f in feats["reference"].values()])
    ps = np.concatenate([f["shot"] for f in feats["pred"].values()])
    rs = np.concatenate([f["shot"] for f in feats["reference"].values()])
    if min(len(pk), len(rk)) < 2:
        raise InputError(pred_dir if len(pk) < 2 else gt_dir,
                         f"fewer than 2 camera chunks of {protocol.chunk_frames} frames",
                         "cameras must be longer (DanceCamera3D cuts 2.5 s chunks)")
    metrics: dict[str, dict] = {}
    metrics.update(fid_rows(pk, rk, "k", f"camera kinetic features of {protocol.chunk_frames}-frame chunks (10-d)",
                            notes, protocol))
    r = fid_and_div(ps, rs, drop_constant=protocol.drop_constant_dims)
    metrics["FID_s"] = {"pred": r["fid"], "reference": None,
                        "definition": "Fréchet distance on per-frame shot features (2-d), z-scored with reference stats"}
    metrics["Div_s"] = {"pred": r["div"], "reference": r["div_reference"],
                        "definition": "mean pairwise L2 distance of the z-scored shot features"}
    metrics = {k: metrics[k] for k in ("FID_k", "FID_s", "Div_k", "Div_s")}
    paired = [n for n in feats["pred"] if n in feats["reference"]]
    for tag, key, label in (("square", "mask_square", "square frustum (reference)"),
                            (aspect_tag, "mask_aspect", f"{aspect_tag} frame")):
        metrics[f"DMR ({tag})"] = {
            "pred": dancer_missing_rate(f[key] for f in feats["pred"].values()),
            "reference": dancer_missing_rate(f[key] for f in feats["reference"].values()),
            "definition": f"frames with no visible joint / all frames, {label}"}
        metrics[f"LCD ({tag})"] = {
            "pred": limbs_capture_difference([feats["pred"][n][key] for n in paired],
                                             [feats["reference"][n][key] for n in paired]) if paired else float("nan"),
            "reference": None,
            "definition": f"mean share of joints whose visibility differs from the reference camera's, {label}"}
    return {
        "metrics": metrics,
        "pred": {"dir": str(pred_dir), "kind": pred_kind, "count": len(pred_items), "paired": len(paired)},
        "reference": {"dir": str(gt_dir), "kind": gt_kind, "count": len(gt_items)},
        "notes": notes,
    }
