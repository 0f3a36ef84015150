"""`cli.py evaluate` and the protocols: identical sets score ~0, corrupted sets clearly worse, cache, errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data.camera import CameraTrack, metres_to_dcm
from data.datasets.dcm import mmd_joints_from_smplx, write_camera_json, write_motion_json
from data.errors import InputError
from metrics import METRICS_VERSION
from metrics.evaluate import run_evaluate

ROOT = Path(__file__).resolve().parents[2]
N_SOLO = 10


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def solo_sets(tmp_path_factory, synth):
    root = tmp_path_factory.mktemp("solo")
    synth.write_solo_corpus(root / "gt", range(N_SOLO), beats_dir=root / "beats", seconds=6)
    synth.write_solo_corpus(root / "noisy", range(N_SOLO), noise=0.02, seconds=6)
    return root


def test_solo_identical_vs_noisy_and_cache(solo_sets, tmp_path):
    cache = tmp_path / "cache"
    same = run_evaluate("solo", solo_sets / "gt", solo_sets / "gt", beats=solo_sets / "beats", cache_dir=cache)
    m = same["metrics"]
    # identical sets: 0 up to sqrtm's accuracy on the singular covariances of 10 vectors in 72-d
    assert abs(m["FID_k"]["pred"]) < 1e-3 and abs(m["FID_g"]["pred"]) < 1e-3
    assert m["Div_k"]["pred"] == pytest.approx(m["Div_k"]["reference"])
    assert m["BAS"]["pred"] > 0.85 and m["BeatAlign"]["pred"] > 0.85  # beat-locked dances
    assert same["cache"] == {"dir": str(cache), "hits": 0, "computed": 2 * N_SOLO}
    assert same["protocol"]["name"] == "bailando" and same["metrics_version"] == METRICS_VERSION

    noisy = run_evaluate("solo", solo_sets / "noisy", solo_sets / "gt", beats=solo_sets / "beats", cache_dir=cache)
    n = noisy["metrics"]
    assert n["FID_k"]["pred"] > 100 and n["FID_g"]["pred"] > 100
    assert n["BeatAlign"]["pred"] < m["BeatAlign"]["pred"] - 0.1
    assert noisy["cache"]["hits"] == N_SOLO and noisy["cache"]["computed"] == N_SOLO  # the reference was cached

    corrected = run_evaluate("solo", solo_sets / "noisy", solo_sets / "gt", protocol="pasdeux-solo", cache_dir=cache)
    assert corrected["cache"]["computed"] == 2 * N_SOLO  # other settings, other cache entries
    assert corrected["metrics"]["FID_k"]["pred"] > 100
    assert np.isnan(corrected["metrics"]["BAS"]["pred"])  # no --beats: not available


def test_cli_prints_protocol_table_and_writes_json(solo_sets, tmp_path):
    out = tmp_path / "scores.json"
    r = run_cli("evaluate", "--task", "solo", "--pred", solo_sets / "noisy", "--gt", solo_sets / "gt",
                "--beats", solo_sets / "beats", "--out", out, "--no-cache")
    assert r.returncode == 0, r.stderr
    assert f"pasdeux metrics {METRICS_VERSION}  task=solo  protocol=bailando" in r.stdout
    assert "legacy=True" in r.stdout and "first 1200 frames of generated sequences" in r.stdout
    for row in ("FID_k", "FID_g", "Div_k", "Div_g", "BAS", "BeatAlign", "PFC"):
        assert f"\n  {row} " in r.stdout
    data = json.loads(out.read_text())
    assert data["protocol"]["crop_frames"] == 1200 and data["metrics"]["FID_k"]["pred"] > 100
    assert data["metrics"]["FID_k"]["reference"] is None
    assert "LinAlgWarning" not in r.stderr


def test_cli_bad_input_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_cli("evaluate", "--task", "solo", "--pred", tmp_path / "empty", "--gt", tmp_path / "empty",
                "--out", tmp_path / "x.json", "--no-cache")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "found 0 generated sequences" in r.stderr
    assert not (tmp_path / "x.json").exists()
    r = run_cli("evaluate", "--task", "solo", "--pred", tmp_path / "nope", "--gt", tmp_path / "empty")
    assert r.returncode == 2 and "folder not found" in r.stderr


def test_duet_identical_vs_noisy(tmp_path, synth):
    synth.write_duet_corpus(tmp_path / "gt", range(5), seconds=5)
    synth.write_duet_corpus(tmp_path / "noisy", range(5), noise=0.03, seconds=5)
    same = run_evaluate("duet", tmp_path / "gt", tmp_path / "gt", use_cache=False)["metrics"]
    for k in ("FID_k", "FID_g", "FID_cd"):
        assert abs(same[k]["pred"]) < 1e-3
    assert same["BED"]["pred"] == same["BED"]["reference"] and 0 <= same["BED"]["pred"] <= 1
    for k in ("slip% (ref)", "slip% (corr)", "contact% (capsule)", "PFC"):
        assert same[k]["pred"] == same[k]["reference"]
    noisy = run_evaluate("duet", tmp_path / "noisy", tmp_path / "gt", use_cache=False)["metrics"]
    assert noisy["FID_k"]["pred"] > 50 and noisy["FID_cd"]["pred"] > 1e-3
    (tmp_path / "gt" / "duet000_01.npz").unlink()
    with pytest.raises(InputError, match="lack a follower _00 or leader _01"):
        run_evaluate("duet", tmp_path / "gt", tmp_path / "gt", use_cache=False)


def test_camera_identical_jittered_and_looking_away(tmp_path, synth):
    synth.write_camera_corpus(tmp_path / "gt", range(5))
    synth.write_camera_corpus(tmp_path / "jit", range(5), jitter=0.05, with_joints=False)  # dancer from gt
    synth.write_camera_corpus(tmp_path / "away", range(5), look_away=True, with_joints=False)
    same = run_evaluate("camera", tmp_path / "gt", tmp_path / "gt", use_cache=False)["metrics"]
    assert abs(same["FID_k"]["pred"]) < 1e-3 and abs(same["FID_s"]["pred"]) < 1e-6
    assert same["LCD (square)"]["pred"] == 0.0 and same["DMR (square)"]["pred"] == 0.0
    jit = run_evaluate("camera", tmp_path / "jit", tmp_path / "gt", use_cache=False)["metrics"]
    assert jit["FID_k"]["pred"] > 1e3
    away = run_evaluate("camera", tmp_path / "away", tmp_path / "gt", use_cache=False)["metrics"]
    assert away["DMR (square)"]["pred"] == 1.0 and away["DMR (16:9)"]["pred"] == 1.0
    # every joint the reference camera sees is missed: LCD = the reference's mean visible share
    assert 0.5 < away["LCD (square)"]["pred"] <= 1.0 and away["LCD (square)"]["pred"] > jit["LCD (square)"]["pred"]
    wide = run_evaluate("camera", tmp_path / "jit", tmp_path / "gt", protocol="pasdeux-camera", use_cache=False)
    assert wide["protocol"]["aspect"] == pytest.approx(16 / 9)
    assert wide["metrics"]["FID_s"]["pred"] != jit["FID_s"]["pred"]


def test_aistpp_root_splits(tmp_path, synth):
    # an AIST++-layout root: --pred takes its test + val split, --gt the protocol's reference set (all)
    from data.datasets.aistpp import save_aistpp_pkl

    root = tmp_path / "aist"
    (root / "motions").mkdir(parents=True)
    (root / "splits").mkdir()
    names = [f"gBR_sBM_cAll_d0{i}_mBR{i}_ch0{i}" for i in range(6)]
    for i, n in enumerate(names):
        save_aistpp_pkl(synth.beat_dance(i, seconds=3)[0], root / "motions" / f"{n}.pkl")
    (root / "splits" / "crossmodal_test.txt").write_text("\n".join(names[:2]))
    (root / "splits" / "crossmodal_val.txt").write_text(names[2])
    (root / "ignore_list.txt").write_text(names[5])
    r = run_evaluate("solo", root, root, use_cache=False)
    assert r["pred"]["count"] == 3 and r["reference"]["count"] == 5
    assert "AIST++ root" in r["pred"]["kind"]


def test_dcm_root_and_result_json(tmp_path, synth):
    # a DCM-layout reference (CameraCentric + 60-bone motion json, written by data.datasets.dcm) and
    # DanceCamera3D-style results that hold only the eye, the axes and the fov
    test = tmp_path / "DCM_data" / "amc_data_split_by_categories" / "Test"
    (test / "CameraCentric").mkdir(parents=True)
    (test / "Simplified_MotionGlobalTransform").mkdir()
    results = tmp_path / "results"
    results.mkdir()
    for i in range(3):
        motion, _ = synth.beat_dance(i, seconds=6, fps=30, skeleton="smplx55")
        bones = mmd_joints_from_smplx(motion.joints)  # (T, 60, 3) metres
        write_motion_json(metres_to_dcm(bones), test / "Simplified_MotionGlobalTransform" / f"m{i}_1_gt.json")
        cam = synth.orbit_camera(bones, i)[:-1]  # DCM's camera is one frame shorter than the motion
        track = CameraTrack.from_polar(cam)
        write_camera_json(track, test / "CameraCentric" / f"c{i}_1.json")
        eye, right, up, fwd = track.frame()
        (results / f"c{i}_1.json").write_text(json.dumps({
            "camera_eye": eye.tolist(), "camera_x": right.tolist(), "camera_y": up.tolist(),
            "camera_z": fwd.tolist(), "Fov": cam[:, 7].tolist()}))
    r = run_evaluate("camera", results, tmp_path / "DCM_data", use_cache=False)
    assert r["reference"]["kind"] == "DCM root, test split" and r["pred"]["paired"] == 3
    m = r["metrics"]
    assert abs(m["FID_k"]["pred"]) < 1e-3 and m["LCD (square)"]["pred"] == 0.0
    assert m["DMR (square)"]["pred"] == m["DMR (square)"]["reference"]
