"""`cli.py follow` as a user runs it: every frame of the leader followed, any leader format, fps and
SMPL skeleton, the follower placed by the translation tokens, one-line errors and nothing written on
bad input."""

from __future__ import annotations

import numpy as np
import pytest

from data.formats import load_motion, save_motion
from data.io import load_npz
from tests.gpt.conftest import gpt_ckpt, tokenizer_ckpt  # noqa: F401  (a solo GPT checkpoint fixture)
from tests.gpt.test_dance import song  # noqa: F401  (a 3-second click track fixture)
from tests.test_cli import run_cli
from tests.tokenizer.conftest import toy_motion


def test_follow_covers_every_frame_of_the_leader(duet_gpt_ckpt, song, tmp_path):  # noqa: F811
    leader = toy_motion(3, 75, "smplx55", 30.0)  # 2.5 s: not a whole number of tokens (stride 4)
    save_motion(leader, tmp_path / "lead.npz", "npz")
    out = tmp_path / "out"
    r = run_cli("follow", "--ckpt", duet_gpt_ckpt, "--leader", tmp_path / "lead.npz", "--music", song, "--out", out,
                "--samples", "2", "--seed", "1", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["lead_leader.npz", "lead_leader.bvh"] + [
        f"lead_{k}{suffix}" for k in (0, 1) for suffix in ("_follower.npz", "_follower.bvh", "_pair.npz", ".mp4")])
    a, b = load_motion(out / "lead_0_follower.npz"), load_motion(out / "lead_1_follower.npz")
    assert a.num_frames == b.num_frames == 75 and a.skeleton == "smplx55" and a.fps == 30.0
    assert a.has_rotations and np.isfinite(a.joints).all()
    assert not np.allclose(a.joints, b.joints)  # two samples, two followers
    pair = load_npz(out / "lead_0_pair.npz")
    np.testing.assert_allclose(pair["leader_joints"], leader.joints, atol=1e-5)
    np.testing.assert_allclose(pair["follower_joints"], a.joints, atol=1e-5)
    assert pair["follower_transl"].shape == (19,)  # ceil(75 / 4) steps, the tail included

    # the pelvis is the leader's plus the offset the translation tokens decode to (leader heading frame)
    import torch

    from duet.pretrained import Follower
    from tokenizer.translation import follower_offset, follower_root

    f = Follower.from_checkpoint(duet_gpt_ckpt)
    offset = f.translation.decode(torch.as_tensor(pair["follower_transl"]), num_frames=75)
    lj = torch.as_tensor(leader.joints, dtype=torch.float32)
    _, heading = follower_offset(lj, lj[:, 0], "leader")
    np.testing.assert_allclose(a.joints[:, 0], follower_root(lj[:, 0], offset, "leader", heading).numpy(), atol=1e-4)


def test_a_solo_dance_at_60_fps_leads(duet_gpt_ckpt, song, tmp_path):  # noqa: F811
    solo = toy_motion(4, 120, "smpl24", 60.0)  # 2 s of SMPL at 60 fps, as `cli.py dance` writes
    save_motion(solo, tmp_path / "solo.bvh", "bvh")
    r = run_cli("follow", "--ckpt", duet_gpt_ckpt, "--leader", tmp_path / "solo.bvh", "--music", song,
                "--out", tmp_path / "o", "--formats", "npz", "--cache-dir", tmp_path / "cache",
                "--translation-temperature", "0")
    assert r.returncode == 0, r.stderr
    lead = load_motion(tmp_path / "o" / "solo_leader.npz")
    assert lead.skeleton == "smplx55" and lead.fps == 30.0 and lead.num_frames == 60
    np.testing.assert_allclose(lead.joints[:, :22], solo.joints[::2, :22], atol=1e-4)  # the same body, resampled
    assert load_motion(tmp_path / "o" / "solo_follower.npz").num_frames == 60


@pytest.mark.parametrize("case", ["nan leader", "song shorter", "positions-only smpl", "solo checkpoint"])
def test_bad_input_is_one_line_and_writes_nothing(case, duet_gpt_ckpt, gpt_ckpt, song, tmp_path):  # noqa: F811
    from data.motion import Motion

    leader = toy_motion(5, 60, "smplx55", 30.0)
    ckpt, expect = duet_gpt_ckpt, ""
    if case == "nan leader":
        leader.joints[10, 3, 1] = np.nan
        expect = "NaN"
    elif case == "song shorter":
        leader = toy_motion(5, 150, "smplx55", 30.0)  # 5 s against a 3-s song
        expect = "shorter than the leader"
    elif case == "positions-only smpl":
        leader = Motion("smpl24", 60.0, toy_motion(5, 60).joints)
        expect = "positions-only"
    else:
        ckpt, expect = gpt_ckpt, "not an interaction GPT checkpoint"
    save_motion(leader, tmp_path / "lead.npz", "npz")
    out = tmp_path / "out"
    r = run_cli("follow", "--ckpt", ckpt, "--leader", tmp_path / "lead.npz", "--music", song, "--out", out,
                "--cache-dir", tmp_path / "cache")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pasdeux: error:") and expect in lines[0], r.stderr
    assert not out.exists()


def test_a_positions_only_leader_from_duolando_follows(duet_gpt_ckpt, song, tmp_path):  # noqa: F811
    lead = toy_motion(6, 60, "smplx55", 30.0)
    np.save(tmp_path / "Tango_05_1_01.npy", lead.joints.reshape(60, 165))  # Duolando's pos3d layout
    r = run_cli("follow", "--ckpt", duet_gpt_ckpt, "--leader", tmp_path / "Tango_05_1_01.npy", "--music", song,
                "--out", tmp_path / "o", "--formats", "npz", "bvh", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert "joint positions only" in r.stderr
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["Tango_05_1_01_follower.bvh", "Tango_05_1_01_follower.npz", "Tango_05_1_01_leader.npz",
                     "Tango_05_1_01_pair.npz"]
