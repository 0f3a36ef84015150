"""Quick configs run from a script: relocation, fingerprints and reuse, subprocess failures."""

import json

import pytest
import yaml

from training.quick import (FINGERPRINT, QuickFit, fit_fingerprint, fit_quick, finished_fingerprint,
                            last_logged_step, relocated_config, run_cli, source_fingerprint)


def test_config_is_moved_under_the_output_folder(tmp_path):
    fit = QuickFit("solo_gpt", "aistpp", {"tokenizer": "solo_tokenizer"}, demo_steps=750)
    cfg = relocated_config(fit, tmp_path)
    assert cfg["data"]["init_args"]["root"] == str(tmp_path / "synth" / "aistpp")
    assert cfg["model"]["init_args"]["tokenizer"] == str(tmp_path / "checkpoints" / "solo_tokenizer" / "last.ckpt")
    assert cfg["trainer"]["default_root_dir"] == str(tmp_path / "runs" / "solo_gpt")
    ckpt_cb = [c for c in cfg["trainer"]["callbacks"] if c["class_path"].endswith("ModelCheckpoint")]
    assert ckpt_cb[0]["init_args"]["dirpath"] == str(tmp_path / "checkpoints" / "solo_gpt")
    assert fit.deps == ("solo_tokenizer",)
    shipped = yaml.safe_load(fit.config_path.read_text())["trainer"]
    assert cfg["trainer"]["max_steps"] == shipped["max_steps"]  # no override: the config's own
    short = relocated_config(fit, tmp_path, max_steps=750)["trainer"]
    assert short["max_steps"] == 750 and short["val_check_interval"] == shipped["val_check_interval"]  # 250 | 750
    odd = relocated_config(fit, tmp_path, max_steps=310)["trainer"]
    assert odd["val_check_interval"] == 310  # an interval that does not divide: validate once, at the end


def test_nonsense_fits_are_refused():
    with pytest.raises(ValueError, match="corpus"):
        QuickFit("x", "kinetics")
    with pytest.raises(ValueError, match="demo_steps"):
        QuickFit("x", "dcm", demo_steps=0)


def test_fingerprints_change_with_every_input(tmp_path):
    base = fit_fingerprint({"a": 1}, {"tok": "f1"}, "quick:0", "src")
    assert base == fit_fingerprint({"a": 1}, {"tok": "f1"}, "quick:0", "src")
    assert len({base, fit_fingerprint({"a": 2}, {"tok": "f1"}, "quick:0", "src"),
                fit_fingerprint({"a": 1}, {"tok": "f2"}, "quick:0", "src"),
                fit_fingerprint({"a": 1}, {"tok": "f1"}, "quick:1", "src"),
                fit_fingerprint({"a": 1}, {"tok": "f1"}, "quick:0", "src2")}) == 5
    (tmp_path / "cli.py").write_text("print(1)\n")
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "m.py").write_text("x = 1\n")
    before = source_fingerprint(tmp_path)
    (tmp_path / "gpt" / "m.py").write_text("x = 2\n")
    assert source_fingerprint(tmp_path) != before


def test_a_finished_fit_with_the_same_fingerprint_is_reused(tmp_path):
    fit = QuickFit("camera", "dcm", demo_steps=500)
    ckpt = fit.checkpoint(tmp_path)
    assert finished_fingerprint(fit, tmp_path) is None
    # what fit_quick leaves after a run: the checkpoint and its fingerprint
    config = relocated_config(fit, tmp_path, 500)
    fp = fit_fingerprint(config, {}, "quick:0", "src")
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"weights")
    (ckpt.parent / FINGERPRINT).write_text(json.dumps({"fingerprint": fp}))
    r = fit_quick(fit, tmp_path, 500, {}, "quick:0", "src")
    assert r.reused and r.seconds == 0 and r.steps == 500 and r.config_steps == 1500 and r.ckpt == ckpt
    assert ckpt.read_bytes() == b"weights"
    # another fingerprint (here: other code) would train: the stale checkpoint goes first, and a
    # training that cannot start (no corpus) fails naming its log, leaving nothing that passes for done
    with pytest.raises(RuntimeError, match="exited with status") as err:
        fit_quick(fit, tmp_path, 500, {}, "quick:0", "other source")
    assert "camera.log" in str(err.value) and "cli.py synth" in str(err.value)
    assert not ckpt.exists() and finished_fingerprint(fit, tmp_path) is None


def test_run_cli_failure_quotes_the_log(tmp_path):
    log = tmp_path / "logs" / "x.log"
    with pytest.raises(RuntimeError, match="status 2") as err:
        run_cli("convert", tmp_path / "missing.npz", "--to", "npz", "--out", tmp_path / "o.npz", log=log)
    assert "missing.npz" in str(err.value) and log.is_file()


def test_last_logged_step_reads_the_csv_log(tmp_path):
    assert last_logged_step(tmp_path, "solo_gpt") is None
    log = tmp_path / "runs" / "solo_gpt" / "version_0" / "metrics.csv"
    log.parent.mkdir(parents=True)
    log.write_text("epoch,lr,step,train/loss\n0,0.1,9,\n0,,19,2.5\n,,,\n")
    assert last_logged_step(tmp_path, "solo_gpt") == 19
