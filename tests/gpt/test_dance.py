"""`cli.py dance` as a user runs it: outputs per song and sample, seeded sampling, one-line errors and
nothing written on bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.test_cli import run_cli


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """A 3-second click track at 120 BPM with a bass note (what the music features can read)."""
    sr = 22050
    t = np.arange(int(3.0 * sr)) / sr
    y = 0.2 * np.sin(2 * np.pi * 110 * t)
    for beat in np.arange(0, 3.0, 0.5):
        i = int(beat * sr)
        y[i:i + 400] += np.hanning(800)[400:] * np.sin(2 * np.pi * 2000 * t[:400])
    path = tmp_path_factory.mktemp("song") / "click.wav"
    sf.write(path, y.astype(np.float32), sr)
    return path


def test_dance_writes_every_format_per_sample(gpt_ckpt, song, tmp_path):
    from data.formats import load_motion

    out = tmp_path / "out"
    r = run_cli("dance", "--ckpt", gpt_ckpt, "--music", song, "--out", out, "--samples", "2", "--seed", "3",
                "--formats", "npz", "pkl", "bvh", "mp4", "--cache-dir", tmp_path / "cache", "--genre", "BR")
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"click_{k}.{ext}" for k in (0, 1) for ext in ("npz", "pkl", "bvh", "mp4"))
    a, b = load_motion(out / "click_0.npz"), load_motion(out / "click_1.npz")
    assert a.num_frames == b.num_frames == 181  # 3 s at 60 fps: one frame per music feature frame (1 + N // hop)
    assert a.fps == 60.0 and a.has_rotations
    assert not np.allclose(a.joints, b.joints)  # two samples, two dances
    again = tmp_path / "again"
    r = run_cli("dance", "--ckpt", gpt_ckpt, "--music", song, "--out", again, "--samples", "2", "--seed", "3",
                "--formats", "npz", "--cache-dir", tmp_path / "cache", "--genre", "BR")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(load_motion(again / "click_0.npz").joints, a.joints)  # the seed fixes the dance


def test_dance_continues_a_seed_motion(gpt_ckpt, song, tmp_path):
    from data.formats import load_motion, save_motion
    from tests.tokenizer.conftest import toy_motion

    seed = toy_motion(0, 32)
    save_motion(seed, tmp_path / "seed.npz", "npz")
    r = run_cli("dance", "--ckpt", gpt_ckpt, "--music", song, "--out", tmp_path / "o", "--seed-motion",
                tmp_path / "seed.npz", "--formats", "npz", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    m = load_motion(tmp_path / "o" / "click.npz")
    assert np.allclose(m.joints[0, 0], seed.joints[0, 0], atol=1e-5)  # it starts where the seed starts


@pytest.mark.parametrize("case", ["tokenizer checkpoint", "not audio", "unknown genre", "missing song"])
def test_bad_input_is_one_line_and_writes_nothing(case, gpt_ckpt, tokenizer_ckpt, song, tmp_path):
    ckpt, music, extra = gpt_ckpt, song, []
    if case == "tokenizer checkpoint":
        ckpt = tokenizer_ckpt
    elif case == "not audio":
        music = tmp_path / "notes.mp3"
        music.write_text("these are not the songs you are looking for\n")
    elif case == "unknown genre":
        extra = ["--genre", "polka"]
    else:
        music = tmp_path / "nowhere.wav"
    out = tmp_path / "out"
    r = run_cli("dance", "--ckpt", ckpt, "--music", music, "--out", out, "--formats", "npz",
                "--cache-dir", tmp_path / "cache", *extra)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pasdeux: error: "), r.stderr
    assert not out.exists()


def test_dance_with_bf16_weights(gpt_ckpt, song, tmp_path):
    from data.formats import load_motion

    r = run_cli("dance", "--ckpt", gpt_ckpt, "--music", song, "--out", tmp_path / "o", "--precision", "bf16",
                "--formats", "npz", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    m = load_motion(tmp_path / "o" / "click.npz")
    assert m.num_frames == 181 and np.isfinite(m.joints).all()
