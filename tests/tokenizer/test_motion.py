"""MotionTokenizer (solo and duet part sets), the translation VQ-VAE and their geometry."""

import pytest
import torch

from data.datamodules import DuetDataset, SoloDataset
from data.fk import to_rotmat
from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig, pad_to_multiple
from tokenizer.translation import RelativeTranslationVQVAE, TranslationConfig, follower_root


@pytest.fixture(scope="module")
def solo_batch(toys):
    return toys.batch_of(SoloDataset(toys.solo_sequences(2, 64), 48, 16))


@pytest.fixture(scope="module")
def duet_batch(toys):
    return toys.batch_of(DuetDataset(toys.duet_sequences(1, 40), 24, 8))


def test_config_validation_and_derived_parts():
    with pytest.raises(ValueError, match="part_set"):
        MotionTokenizerConfig("trio")
    with pytest.raises(ValueError, match="hand_scale"):
        MotionTokenizerConfig("duet", hand_scale=0)
    cfg = MotionTokenizerConfig("duet", {"levels": 2, "width": 8})  # a dict part, as from YAML
    parts = cfg.part_configs()
    assert list(parts) == ["upper", "lower", "lhand", "rhand"]
    assert parts["upper"].in_channels == 48 and parts["lhand"].rot_channels == 90
    assert parts["lower"].root_channels == 3 and parts["upper"].root_channels == 0
    assert cfg.stride == 4 and cfg.token_rate == 7.5
    assert MotionTokenizerConfig("solo").token_rate == 7.5
    assert MotionTokenizerConfig("solo", rotations=False).part_configs()["upper"].rot_channels == 0


@pytest.mark.parametrize("task, T, J, N", [("solo", 48, 24, 6), ("duet", 24, 55, 6)])
def test_forward_shapes_and_losses(task, T, J, N, solo_batch, duet_batch, toys):
    m = toys.make_tokenizer(task)
    b = solo_batch if task == "solo" else duet_batch
    prefix = "" if task == "solo" else "leader_"
    joints, rot, vel = b[f"{prefix}joints"], b[f"{prefix}rotations"], b[f"{prefix}root_vel"]
    recon, idx, losses = m(joints, rot, vel)
    B = joints.shape[0]
    assert set(idx) == set(m.part_names) and all(v.shape == (B, N) and v.dtype == torch.int64 for v in idx.values())
    assert recon["joints_rel"].shape == (B, T, J, 3) and recon["rotations_6d"].shape == (B, T, J, 6)
    assert recon["root"].shape == (B, T, 3)
    assert "lower/root/rec" in losses and "upper/root/rec" not in losses
    assert all(f"{p}/rot/rec" in losses for p in m.part_names)
    total = sum(losses[f"{p}/loss"] for p in m.part_names)
    assert torch.allclose(losses["loss"], total)
    losses["loss"].backward()
    assert all(p.grad is not None for p in m.parameters())


def test_split_merge_round_trip_with_hands(duet_batch, toys):
    m = toys.make_tokenizer("duet")
    joints = duet_batch["follower_joints"]
    pieces = m.split(joints)
    # fingers enter wrist-relative, x10
    wrist = joints[..., 20, :]
    assert torch.allclose(pieces["lhand"][..., :3], (joints[..., 25, :] - wrist) * 10, atol=1e-6)
    assert torch.allclose(m.merge(pieces), joints, atol=1e-6)


def test_decode_encode_round_trip_matches_forward_in_eval(solo_batch, toys):
    m = toys.make_tokenizer("solo")
    m(solo_batch["joints"], solo_batch["rotations"], solo_batch["root_vel"])  # initialise the codebooks
    m.eval()
    recon, idx, _ = m(solo_batch["joints"], solo_batch["rotations"], solo_batch["root_vel"])
    enc = m.encode(solo_batch["joints"])
    assert all(torch.equal(enc[p], idx[p]) for p in idx)
    dec = m.decode(enc)
    for key in ("joints_rel", "rotations_6d", "root", "root_vel"):
        assert torch.equal(dec[key], recon[key]), key


@pytest.mark.parametrize("task", ["solo", "duet"])
def test_chunked_decode_equals_the_whole_sequence(task, solo_batch, duet_batch, toys):
    """Chunks give the same joints, rotations and root (the pelvis carried across chunks)."""
    torch.manual_seed(0)
    m = toys.make_tokenizer(task)
    b = solo_batch if task == "solo" else duet_batch
    prefix = "" if task == "solo" else "leader_"
    m(b[f"{prefix}joints"], b[f"{prefix}rotations"], b[f"{prefix}root_vel"])  # initialise the codebooks
    m.eval()
    idx = {p: torch.randint(0, m.parts[p].config.codebook_size, (2, 29)) for p in m.part_names}
    start = torch.tensor([[0.5, 0.9, -1.0], [0.0, 1.0, 2.0]])
    frames = 29 * m.stride - 3
    whole = m.decode(idx, root_start=start, num_frames=frames)
    for chunk in (1, 5, 28):
        pieces = m.decode(idx, root_start=start, num_frames=frames, chunk=chunk)
        assert pieces.keys() == whole.keys()
        for key in whole:
            torch.testing.assert_close(pieces[key], whole[key], rtol=1e-5, atol=2e-5, msg=key)
    with pytest.raises(ValueError, match="chunk"):
        m.decode(idx, chunk=0)


def test_encode_pads_to_the_stride_and_decode_crops(solo_batch, toys):
    m = toys.make_tokenizer("solo").eval()
    joints = solo_batch["joints"][:, :45]  # 45 frames: 6 tokens of 8 after padding to 48
    idx = m.encode(joints)
    assert all(v.shape == (joints.shape[0], 6) for v in idx.values())
    assert m.decode(idx, num_frames=45)["joints"].shape[1] == 45
    padded = pad_to_multiple(joints, 8, dim=1)
    assert padded.shape[1] == 48 and torch.equal(padded[:, 45:], joints[:, -1:].expand(-1, 3, -1, -1))


def test_root_is_integrated_from_the_decoded_velocity(toys):
    m = toys.make_tokenizer("solo").eval()
    # Make the root head output a constant 1.2 m/s along x: its last conv outputs only its bias.
    head = m.parts["lower"].decoders["root"].net[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([1.2, 0.0, -0.6]))
    idx = {p: torch.zeros(2, 3, dtype=torch.long) for p in m.part_names}
    start = torch.tensor([[0.5, 0.9, -1.0], [0.0, 1.0, 2.0]])
    out = m.decode(idx, root_start=start)
    t = torch.arange(24, dtype=torch.float32)[:, None]
    expected = start[:, None] + t * torch.tensor([1.2, 0.0, -0.6]) / 60.0  # metres per frame at 60 fps
    assert torch.allclose(out["root"], expected, atol=1e-5)
    assert torch.allclose(out["joints"], out["joints_rel"] + out["root"][:, :, None], atol=1e-6)
    assert torch.equal(out["joints"][..., 0, :], out["root"])  # the pelvis is the root


def test_rotations_are_valid_rotations(toys):
    m = toys.make_tokenizer("solo").eval()
    idx = {p: torch.randint(0, 16, (2, 4)) for p in m.part_names}
    out = m.decode(idx)
    R = to_rotmat(out["rotations"], "axis_angle")  # (B, T, J, 3, 3) from the axis-angle output
    eye = torch.eye(3).expand_as(R)
    assert torch.allclose(R @ R.transpose(-1, -2), eye, atol=1e-4)
    assert torch.allclose(torch.linalg.det(R), torch.ones(R.shape[:-2]), atol=1e-4)
    # axis-angle is the Gram-Schmidt projection of the decoded 6D
    assert torch.allclose(R, to_rotmat(out["rotations_6d"], "6d"), atol=1e-4)


def test_wrong_skeleton_is_rejected(solo_batch, toys):
    with pytest.raises(ValueError, match="smplx55"):
        toys.make_tokenizer("duet").encode(solo_batch["joints"])


def test_translation_vqvae_contract_and_follower_root(duet_batch, toys):
    torch.manual_seed(0)
    tr = RelativeTranslationVQVAE(TranslationConfig(part=toys.tiny_part(levels=2)))
    offset = duet_batch["follower_root_rel_local"]  # (B, 24, 3)
    recon, idx, losses = tr(offset)
    assert recon.shape == offset.shape and idx.shape == (offset.shape[0], 6) and losses["loss"] > 0
    tr.eval()
    recon, idx, _ = tr(offset)
    assert torch.equal(tr.encode(offset), idx) and torch.equal(tr.decode(idx), recon)
    assert tr.decode(tr.encode(offset[:, :22]), num_frames=22).shape[1] == 22
    with pytest.raises(ValueError, match="frame"):
        TranslationConfig(frame="camera")
    assert TranslationConfig(frame="world").batch_key == "follower_root_rel"


def test_follower_root_inverts_the_datamodule_offsets(duet_batch):
    from data.geometry import heading_angle

    leader_abs = duet_batch["leader_joints"]  # pelvis-relative; heading needs only the hips
    heading = heading_angle(leader_abs, 1, 2)
    leader_root = torch.randn(heading.shape + (3,))
    world = follower_root(leader_root, duet_batch["follower_root_rel"], "world")
    local = follower_root(leader_root, duet_batch["follower_root_rel_local"], "leader", heading)
    assert torch.allclose(world, local, atol=1e-5)
    with pytest.raises(ValueError, match="heading"):
        follower_root(leader_root, duet_batch["follower_root_rel_local"], "leader")


def test_encode_root_velocity_puts_the_velocity_in_the_pelvis_slot(solo_batch, toys):
    torch.manual_seed(0)
    m = MotionTokenizer(MotionTokenizerConfig("solo", toys.tiny_part(levels=3), encode_root_velocity=True))
    joints, vel = solo_batch["joints"], solo_batch["root_vel"]
    with pytest.raises(ValueError, match="root_vel"):
        m.encode(joints)
    x = m.split(joints, vel)
    assert torch.allclose(x["lower"][..., :3], vel * 60.0)  # metres per second in the pelvis slot
    assert torch.equal(x["upper"], MotionTokenizer(MotionTokenizerConfig("solo", toys.tiny_part(levels=3))).split(joints)["upper"])
    m(joints, solo_batch["rotations"], vel)
    m.eval()
    recon, idx, _ = m(joints, solo_batch["rotations"], vel)
    assert all(torch.equal(m.encode(joints, vel)[p], idx[p]) for p in idx)
    assert torch.equal(recon["joints_rel"][..., 0, :], torch.zeros_like(recon["joints_rel"][..., 0, :]))
