"""PartVQVAE: config validation, shapes per stride, the encode/decode contract, codebook state."""

import pytest
import torch

from tokenizer.vqvae import PartVQVAE, PartVQVAEConfig, build_quantizer
from training.config import coerce_config


def part(levels: int = 3, **kw) -> PartVQVAE:
    cfg = PartVQVAEConfig(in_channels=9, rot_channels=18, root_channels=3, width=16, depth=2, levels=levels,
                          code_dim=8, codebook_size=16, kmeans_iters=2, **kw)
    return PartVQVAE(cfg)


@pytest.mark.parametrize("bad, match", [
    (dict(width=0), "width"), (dict(levels=1.5), "levels"), (dict(codebook_size=1), "codebook_size"),
    (dict(ema_decay=1.0), "ema_decay"), (dict(commitment_weight=-0.1), "commitment_weight"),
    (dict(in_channels=0), "in_channels"), (dict(rot_channels=-6), "rot_channels"),
    (dict(freq_weight=float("nan")), "freq_weight"), (dict(kmeans_init="yes"), "kmeans_init"),
    (dict(depth=True), "depth"), (dict(freq_domain="phase"), "freq_domain"), (dict(upsample="linear"), "upsample"),
])
def test_config_rejects_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        PartVQVAEConfig(**bad)


def test_config_needs_channels_and_coerces_dicts():
    with pytest.raises(ValueError, match="in_channels is not set"):
        PartVQVAE(PartVQVAEConfig())
    cfg = coerce_config(PartVQVAEConfig, {"width": 32, "levels": 2})
    assert cfg.width == 32 and cfg.stride == 4
    with pytest.raises(ValueError, match="no field"):
        coerce_config(PartVQVAEConfig, {"widht": 32})


def test_quantizer_settings_are_explicit():
    cfg = PartVQVAEConfig(in_channels=3, code_dim=8, codebook_size=16, ema_decay=0.97, dead_code_threshold=2.0,
                          commitment_weight=0.5, kmeans_init=True)
    vq = build_quantizer(cfg, sync_codebook=False)
    cb = vq._codebook
    assert cb.decay == 0.97 and cb.threshold_ema_dead_code == 2.0 and not cb.use_ddp
    assert not bool(cb.initted)  # k-means pending
    assert vq.commitment_weight == 0.5 and vq.rotation_trick is False
    assert PartVQVAE(cfg).quantizer._codebook.use_ddp is False  # the library's decision: no process group


@pytest.mark.parametrize("levels, upsample", [(1, "transposed"), (2, "transposed"), (3, "transposed"), (3, "nearest")])
def test_shapes_per_stride(levels, upsample):
    m = part(levels, upsample=upsample)
    s = 2**levels
    x = torch.randn(3, 6 * s, 9)
    recon, idx, losses = m(x, {"rot": torch.randn(3, 6 * s, 18), "root": torch.randn(3, 6 * s, 3)})
    assert idx.shape == (3, 6) and idx.dtype == torch.int64
    assert {k: tuple(v.shape) for k, v in recon.items()} == {"pos": (3, 6 * s, 9), "rot": (3, 6 * s, 18),
                                                              "root": (3, 6 * s, 3)}
    assert {"pos/rec", "pos/vel", "pos/acc", "rot/rec", "root/rec", "root/acc", "commit", "loss"} <= set(losses)
    assert int(idx.min()) >= 0 and int(idx.max()) < 16
    with pytest.raises(ValueError, match="multiple of the stride"):
        m.encode(torch.randn(1, 6 * s + 1, 9))


def test_decode_of_encode_equals_forward_in_eval():
    torch.manual_seed(0)
    m = part(3)
    m.train()
    m(torch.randn(4, 32, 9))  # k-means init + one EMA update
    m.eval()
    x = torch.randn(2, 48, 9)
    recon, idx, losses = m(x)
    enc = m.encode(x)
    assert torch.equal(enc, idx)
    dec = m.decode(enc)
    for head in recon:
        assert torch.equal(dec[head], recon[head])
    assert losses["commit"] > 0  # the real commitment error, even in eval


def test_encode_and_eval_never_touch_the_codebook():
    torch.manual_seed(0)
    m = part(2)
    x = torch.randn(2, 16, 9)
    before = {k: v.clone() for k, v in m.state_dict().items() if "_codebook" in k}
    m.encode(x)  # before k-means init: must not initialise from this input
    m.eval()
    m(x)
    after = {k: v for k, v in m.state_dict().items() if "_codebook" in k}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not m.codebook_initted
    m.train()
    m(x)
    assert m.codebook_initted


def test_training_updates_codebook_by_ema():
    torch.manual_seed(0)
    m = part(2, kmeans_init=False)
    embed0 = m.codebook.clone()
    m(torch.randn(4, 16, 9))
    assert not torch.equal(embed0, m.codebook)


def test_decode_rejects_bad_indices():
    m = part(2)
    with pytest.raises(ValueError, match="indices must lie"):
        m.decode(torch.tensor([[0, 16]]))
    with pytest.raises(ValueError, match="expected"):
        m.decode(torch.tensor([0, 1]))


def test_freq_loss_only_when_weighted():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 9)
    assert "pos/freq" not in part(2)(x)[2]
    with_freq = part(2, freq_weight=0.5)(x)[2]
    assert with_freq["pos/freq"] > 0


def test_freq_loss_on_velocity_compares_first_differences():
    from tokenizer.losses import focal_frequency_loss, temporal_difference

    torch.manual_seed(0)
    m = part(2, freq_weight=1.0, freq_domain="velocity", normalize=False)
    x = torch.randn(2, 16, 9)
    recon, _, losses = m(x)
    expected = focal_frequency_loss(temporal_difference(recon["pos"], 1), temporal_difference(x, 1))
    assert torch.allclose(losses["pos/freq"], expected)
    # A constant offset has no velocity: the velocity-domain loss does not see it.
    assert focal_frequency_loss(temporal_difference(x + 1.0, 1), temporal_difference(x, 1)) < 1e-12


def test_shared_decoder_has_one_stack_and_same_contract():
    torch.manual_seed(0)
    sep, shared = part(2), part(2, shared_decoder=True)
    assert sum(p.numel() for p in shared.parameters()) < sum(p.numel() for p in sep.parameters())
    recon, idx, _ = shared(torch.randn(2, 16, 9), {"rot": torch.randn(2, 16, 18)})
    assert {k: v.shape[-1] for k, v in recon.items()} == {"pos": 9, "rot": 18, "root": 3}
    shared.eval()
    x = torch.randn(2, 16, 9)
    recon, idx, _ = shared(x)
    assert torch.equal(shared.decode(shared.encode(x))["pos"], recon["pos"])


def test_normalizer_is_set_on_the_first_training_batch_then_frozen():
    torch.manual_seed(0)
    m = part(2)
    x = torch.randn(4, 16, 9) * 0.2 + torch.arange(9.0)  # per-channel means 0..8, std 0.2
    x[..., 0] = 0.0  # a channel that never moves (the pelvis slot)
    m.eval()
    m(x)
    assert not bool(m.norms["pos"].initted)  # eval never measures
    m.train()
    m(x, {"root": torch.full((4, 16, 3), 2.0)})
    pos = m.norms["pos"]
    assert bool(pos.initted)
    assert torch.allclose(pos.mean[1:], x.mean(dim=(0, 1))[1:], atol=1e-5)
    assert torch.allclose(pos.std[1:], x.std(dim=(0, 1), unbiased=False)[1:], atol=1e-5)
    assert pos.std[0] == pos.min_std  # floored, not zero
    assert torch.allclose(m.norms["root"].mean, torch.full((3,), 2.0))
    assert not bool(m.norms["rot"].initted)  # no rotation target yet: stays identity until one comes
    frozen = pos.mean.clone()
    m(x * 3)
    assert torch.equal(pos.mean, frozen)
    assert {"norms.pos.mean", "norms.pos.std", "norms.pos.initted"} <= set(m.state_dict())


def test_normalization_can_be_switched_off():
    m = part(2, normalize=False)
    assert m.norms is None
    m(torch.randn(2, 16, 9))


def test_head_blocks_give_each_head_its_own_units_on_the_shared_trunk():
    with pytest.raises(ValueError, match="head_blocks needs shared_decoder"):
        PartVQVAEConfig(in_channels=9, head_blocks=1)
    with pytest.raises(ValueError, match="head_blocks"):
        PartVQVAEConfig(in_channels=9, shared_decoder=True, head_blocks=-1)
    torch.manual_seed(0)
    bare, blocks = part(2, shared_decoder=True), part(2, shared_decoder=True, head_blocks=2)
    assert isinstance(bare.decoders["pos"], torch.nn.Conv1d)  # checkpoint keys unchanged without blocks
    units = [m for m in blocks.decoders["rot"].modules() if m.__class__.__name__ == "ResidualUnit"]
    assert len(units) == 2
    blocks.eval()
    x = torch.randn(2, 16, 9)
    recon, idx, _ = blocks(x)
    assert {k: v.shape for k, v in recon.items()} == {"pos": (2, 16, 9), "rot": (2, 16, 18), "root": (2, 16, 3)}
    assert torch.equal(blocks.decode(idx)["rot"], recon["rot"])


def test_quantiser_ignores_bf16_autocast():
    """Under mixed precision the quantiser still runs in float32: the same encoder outputs give the
    same codes, the same straight-through output and the same EMA codebook, bit for bit."""
    z = torch.randn(6, 8, 8, generator=torch.Generator().manual_seed(1))
    runs = {}
    for bf16 in (False, True):
        torch.manual_seed(0)
        m = part(2).train()
        out = []
        for step in range(5):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                q, idx, commit = m.quantize(z + 0.1 * step)
            assert q.dtype == torch.float32 and commit.dtype == torch.float32
            out.append((q.detach(), idx))
        runs[bf16] = (out, m.quantizer.state_dict())
    for (q0, i0), (q1, i1) in zip(runs[False][0], runs[True][0]):
        assert torch.equal(i0, i1) and torch.equal(q0, q1)
    for key, value in runs[False][1].items():
        assert torch.equal(value, runs[True][1][key]), key


def test_bf16_training_keeps_the_codebook_near_an_fp32_runs():
    """End to end, the convs in bf16 move the encoder outputs the codebook averages by bf16 rounding:
    after 5 steps the codebook is within 15 % (mean absolute, relative) of an fp32 run's, and every
    output and loss is float32."""
    x = torch.randn(8, 32, 9, generator=torch.Generator().manual_seed(0))
    runs = {}
    for bf16 in (False, True):
        torch.manual_seed(0)
        m = part(2)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        for _ in range(5):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                recon, idx, losses = m(x)
            assert recon["pos"].dtype == torch.float32 and losses["loss"].dtype == torch.float32
            opt.zero_grad()
            losses["loss"].backward()
            opt.step()
        assert m.codebook.dtype == torch.float32
        runs[bf16] = m.codebook.detach().clone()
    err = (runs[True] - runs[False]).abs().mean() / runs[False].abs().mean()
    assert 0 < err < 0.15, float(err)


def test_nearest_upsampling_conv_is_the_plain_upsample_then_conv():
    """The polyphase form computes exactly Upsample(x2, nearest) -> Conv1d(k3, pad 1), same parameters,
    in values and in gradients."""
    from tokenizer.vqvae import NearestUpConv

    torch.manual_seed(0)
    up = NearestUpConv(5)
    x = torch.randn(3, 5, 7, requires_grad=True)
    plain = torch.nn.functional.conv1d(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"),
                                       up.conv.weight, up.conv.bias, padding=1)
    fast = up(x)
    assert fast.shape == (3, 5, 14)
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-6)
    g = torch.randn_like(plain)
    grads_plain = torch.autograd.grad(plain, (x, up.conv.weight, up.conv.bias), g)
    grads_fast = torch.autograd.grad(fast, (x, up.conv.weight, up.conv.bias), g)
    for a, b in zip(grads_fast, grads_plain):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert set(dict(up.named_parameters())) == {"conv.weight", "conv.bias"}


def test_nearest_checkpoints_of_the_sequential_layout_still_load():
    from tokenizer.vqvae import NearestUpConv

    torch.manual_seed(0)
    old = torch.nn.Sequential(torch.nn.Upsample(scale_factor=2, mode="nearest"), torch.nn.Conv1d(4, 4, 3, padding=1))
    holder = torch.nn.Sequential(NearestUpConv(4))
    holder.load_state_dict({f"0.{k}": v for k, v in old.state_dict().items()})  # keys 0.1.weight, 0.1.bias
    x = torch.randn(2, 4, 6)
    torch.testing.assert_close(holder(x), old(x), rtol=0, atol=1e-6)


def _initialised(m: PartVQVAE) -> PartVQVAE:
    m.train()
    m(torch.randn(4, 16 * m.stride, 9))  # k-means init: distinct codes, so tokens matter
    return m.eval()


@pytest.mark.parametrize("levels, upsample, shared, head_blocks", [
    (3, "transposed", False, 0), (2, "nearest", False, 0), (3, "nearest", True, 2), (1, "transposed", True, 0)])
def test_decoded_spans_give_the_frames_of_the_whole_sequence(levels, upsample, shared, head_blocks):
    torch.manual_seed(0)
    m = _initialised(part(levels, upsample=upsample, shared_decoder=shared, head_blocks=head_blocks))
    idx = torch.randint(0, 16, (2, 53))
    whole = m.decode(idx)
    for chunk in (1, 7, 20, 52):
        spans = [m.decode_span(idx, a, min(53, a + chunk)) for a in range(0, 53, chunk)]
        for head in whole:
            torch.testing.assert_close(torch.cat([s[head] for s in spans], dim=1), whole[head], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("levels, shared, head_blocks", [(3, False, 0), (2, True, 3)])
def test_decoder_reach_bounds_how_far_a_token_changes_frames(levels, shared, head_blocks):
    torch.manual_seed(1)
    m = _initialised(part(levels, shared_decoder=shared, head_blocks=head_blocks))
    idx = torch.randint(0, 16, (1, 40))
    j, s, reach = 20, m.stride, m.decoder_reach
    other = idx.clone()
    other[0, j] = (idx[0, j] + 1) % 16
    changed = (m.decode(idx)["pos"] - m.decode(other)["pos"]).abs().amax(dim=-1)[0] > 0  # (T,)
    frames = torch.nonzero(changed)[:, 0]
    assert frames.numel() and frames.min() >= (j - reach) * s and frames.max() < (j + 1 + reach) * s
    # and the bound is not loose by more than a token either side
    assert frames.min() < (j - reach + 2) * s and frames.max() >= (j + reach - 1) * s
