"""The command line as a user runs it: exit codes, one-line errors, no partial output."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_overview_lists_training_and_tool_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    for name in ("fit", "validate", "test", "predict", "features", "convert", "render", "camera", "demo", "evaluate"):
        assert f"  {name} " in out.stdout


def test_unknown_command_exits_2():
    out = run_cli("dance-now")
    assert out.returncode == 2 and "unknown command" in out.stderr


def test_fit_help_comes_from_lightning():
    out = run_cli("fit", "--help")
    assert out.returncode == 0 and "--trainer" in out.stdout and "--model" in out.stdout


def test_convert_npz_round_trip_and_missing_input(tmp_path):
    from data.formats import load_motion
    from data.motion import Motion, save_npz

    rng = np.random.default_rng(0)
    m = Motion.from_smpl("smpl24", rng.normal(scale=0.3, size=(5, 24, 3)), np.zeros((5, 3)), 60.0)
    src = save_npz(m, tmp_path / "in.npz")
    out = run_cli("convert", src, "--to", "npz", "--out", tmp_path / "out.npz")
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(load_motion(tmp_path / "out.npz").joints, m.joints, atol=1e-6)

    missing = run_cli("convert", tmp_path / "nope.npz", "--to", "npz", "--out", tmp_path / "x.npz")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "nope.npz: file not found" in missing.stderr
    assert not (tmp_path / "x.npz").exists()


def test_nan_motion_gives_one_line_and_no_output(tmp_path):
    bad = tmp_path / "nan.npz"
    joints = np.zeros((4, 24, 3))
    joints[2, 3, 1] = np.nan
    np.savez(bad, skeleton=np.str_("smpl24"), fps=np.float64(60), joints=joints)
    out = run_cli("convert", bad, "--to", "npz", "--out", tmp_path / "out.npz")
    assert out.returncode == 2
    assert out.stderr.startswith("pasdeux: error: ") and out.stderr.count("\n") == 1
    assert str(bad) in out.stderr and "NaN" in out.stderr
    assert list(tmp_path.iterdir()) == [bad]


def test_features_on_a_text_file_named_mp3_is_one_line(tmp_path):
    fake = tmp_path / "song.mp3"
    fake.write_text("not a song\n" * 20)
    out = run_cli("features", fake, "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr  # the mp3 decoder's "Note: ..." lines are silenced
    assert str(fake) in lines[0] and "''" not in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_quick_config_without_its_corpus_names_the_command_that_writes_it(tmp_path):
    r = run_cli("fit", "--config", ROOT / "configs" / "quick" / "camera.yaml", cwd=tmp_path)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("pasdeux: error:")]
    assert len(errors) == 1 and "python cli.py synth --out demo_out/synth" in errors[0], r.stderr
    assert "Traceback" not in r.stderr
