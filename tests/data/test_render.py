"""Preview rendering: video streams, frame counts, audio muxing, two dancers, orientation of the
figure, bad music, and the `render` command end to end. Small sizes keep it to a few seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data.errors import InputError
from data.motion import Motion, save_npz
from data.render import (DANCER_COLOURS, check_audio, probe_media, render_still, render_video,
                         video_frame_count)
from data.skeleton import get_skeleton

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def dance(skeleton: str = "smpl24", T: int = 60, fps: float = 60.0, x0: float = 0.0,
          seed: int = 0, name: str = "") -> Motion:
    """A swaying, travelling motion."""
    J = get_skeleton(skeleton).num_joints
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    phase = rng.uniform(0, 2 * np.pi, size=(1, J, 3))
    rot = 0.3 * np.sin(2 * np.pi * t[:, None, None] + phase)  # (T, J, 3)
    root = np.stack([x0 + 0.3 * t, 0.05 * np.abs(np.sin(2 * np.pi * t)), 0.2 * t], axis=1)  # (T, 3)
    return Motion.from_smpl(skeleton, rot, root, fps, name=name)


def write_song(path: Path, seconds: float, sr: int = 22050) -> Path:
    import soundfile

    t = np.arange(int(sr * seconds)) / sr
    soundfile.write(path, 0.2 * np.sin(2 * np.pi * 220 * t), sr)
    return path


def count_frames(path: Path) -> int:
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]


def colour_mask(image: np.ndarray, hex_colour: str, tol: int = 12) -> np.ndarray:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return (np.abs(image[..., :3].astype(int) - rgb) <= tol).all(axis=-1)


# --------------------------------------------------------------------------------------------------
def test_video_without_music(tmp_path):
    m = dance(T=90, fps=60.0)  # 1.5 s
    out = render_video([m], tmp_path / "solo.mp4", size=128, title="solo")
    info = probe_media(out)
    assert info.video and not info.audio and info.video_codec == "h264"
    assert (info.width, info.height) == (170, 128) and info.fps == 30.0  # 60 fps capped at 30
    assert count_frames(out) == 45
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solo.mp4"]  # no temp file left


def test_video_with_music_is_cut_to_the_dance(tmp_path):
    m = dance(T=30, fps=30.0)  # 1 s
    song = write_song(tmp_path / "song.wav", 3.0)
    out = render_video([m], tmp_path / "v.mp4", music=song, fps=15, size=96)
    info = probe_media(out)
    assert info.video and info.audio and info.audio_codec == "aac"
    assert (info.width, info.height) == (128, 96) and info.fps == 15.0
    assert count_frames(out) == 15
    assert info.duration == pytest.approx(1.0, abs=0.1)  # the 3 s song was trimmed


def test_two_dancers_of_different_lengths_and_rates(tmp_path):
    short = dance(T=60, fps=60.0, name="leader")  # 1 s at 60 fps
    long = dance(T=45, fps=30.0, x0=1.0, seed=1, name="follower")  # 1.5 s at 30 fps
    assert video_frame_count([short, long], 30.0) == 45
    out = render_video([short, long], tmp_path / "duet.mp4", size=128)
    assert count_frames(out) == 45


def test_still_shows_both_dancers_upright_and_facing_the_viewer(tmp_path):
    rest = Motion.from_smpl("smplx55", np.zeros((1, 55, 3)), np.zeros((1, 3)), 30.0)
    png = render_still([rest], tmp_path / "rest.png", size=256)
    from matplotlib.image import imread

    img = (imread(png)[..., :3] * 255).round().astype(np.uint8)
    assert img.shape == (256, 342, 3)
    base, left, right = DANCER_COLOURS[0]
    rows = np.nonzero(colour_mask(img, base) | colour_mask(img, left) | colour_mask(img, right))[0]
    cols_left = np.nonzero(colour_mask(img, left))[1]
    cols_right = np.nonzero(colour_mask(img, right))[1]
    assert len(cols_left) > 50 and len(cols_right) > 50
    # Facing the viewer: the body's left side is drawn on the image's right.
    assert cols_left.mean() > cols_right.mean() + 20
    # Upright: taller than wide in the middle, head (top rows) above the feet (bottom rows).
    head_row = np.nonzero(colour_mask(img, base))[0].min()
    assert head_row < rows.min() + 0.25 * (rows.max() - rows.min())
    assert not colour_mask(img, DANCER_COLOURS[1][0]).any()  # one dancer only

    pair = render_still([rest, dance("smpl24", T=5, x0=1.0)], tmp_path / "pair.png", size=256)
    img2 = (imread(pair)[..., :3] * 255).round().astype(np.uint8)
    assert colour_mask(img2, DANCER_COLOURS[1][0]).sum() > 20  # the second dancer, in red


def test_positions_only_mmd_motion_renders(tmp_path):
    sk = get_skeleton("mmd60")
    rest = sk.rest_joints()  # (J, 3)
    joints = rest[None] + np.linspace(0, 0.5, 20)[:, None, None] * np.array([1.0, 0.0, 0.0])
    m = Motion(skeleton="mmd60", fps=30.0, joints=joints)
    out = render_video([m], tmp_path / "mmd.mp4", size=96)
    assert count_frames(out) == 20


def test_bad_music_is_refused_before_rendering(tmp_path):
    m = dance(T=10)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    with pytest.raises(InputError, match=r"bad.wav: not a readable audio file"):
        render_video([m], tmp_path / "v.mp4", music=bad, size=96)
    with pytest.raises(InputError, match="music file not found"):
        render_video([m], tmp_path / "v.mp4", music=tmp_path / "missing.wav", size=96)
    with pytest.raises(InputError, match="holds no samples"):
        render_video([m], tmp_path / "v.mp4", music=write_song(tmp_path / "empty.wav", 0.0), size=96)
    with pytest.raises(InputError, match=r"suffix '\.gif'"):
        render_video([m], tmp_path / "v.gif", size=96)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav", "empty.wav"]


def test_check_audio_reports_duration_and_accepts_what_ffmpeg_reads(tmp_path):
    import imageio_ffmpeg

    flac = write_song(tmp_path / "s.flac", 1.25)
    assert check_audio(flac) == pytest.approx(1.25, abs=1e-3)
    # m4a: libsndfile cannot open it, ffmpeg can (and does the muxing), so it is accepted.
    m4a = tmp_path / "s.m4a"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(flac), "-c:a", "aac",
                    str(m4a)], check=True)
    assert check_audio(m4a) == pytest.approx(1.25, abs=0.1)
    out = render_video([dance(T=15, fps=30.0)], tmp_path / "v.mp4", music=m4a, size=64)
    assert probe_media(out).audio


def test_cli_render_end_to_end(tmp_path):
    a = save_npz(dance(T=40, fps=60.0), tmp_path / "a.npz")
    b = save_npz(dance(T=20, fps=30.0, x0=1.0, seed=2), tmp_path / "b.npz")
    song = write_song(tmp_path / "s.wav", 2.0)
    out = tmp_path / "v.mp4"
    res = run_cli("render", a, b, "--music", song, "--out", out, "--size", "96", "--title", "duet")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)
    info = probe_media(out)
    assert info.video and info.audio
    assert count_frames(out) == 20  # max(40 / 60, 20 / 30) s at 30 fps

    bad = tmp_path / "noise.wav"
    bad.write_text("this is not audio")
    res = run_cli("render", a, "--music", bad, "--out", tmp_path / "w.mp4", "--size", "96")
    assert res.returncode == 2
    assert res.stderr.startswith("pasdeux: error: ") and res.stderr.count("\n") == 1
    assert str(bad) in res.stderr
    assert not (tmp_path / "w.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".w.")]
