"""The shared transformer: the window mask, rotary positions, and the KV cache against recomputation."""

from __future__ import annotations

import pytest
import torch

from gpt.transformer import KVCache, Transformer, TransformerConfig, step_index, window_mask


def tiny(window: int = 4, layers: int = 2, dropout: float = 0.0) -> Transformer:
    torch.manual_seed(0)
    return Transformer(TransformerConfig(n_layer=layers, n_embd=16, n_head=2, window=window, dropout=dropout)).double().eval()


def test_window_mask_by_hand():
    steps = step_index(3, 2)  # [0 0 1 1 2 2]
    m = window_mask(steps, steps, window=2)
    expected = torch.tensor([
        [1, 1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1],  # step 2 no longer sees step 0 with a window of 2
        [0, 0, 1, 1, 1, 1],
    ], dtype=torch.bool)
    assert torch.equal(m, expected)
    # empty cache slots (step -1) are never attended to
    assert not window_mask(torch.tensor([5]), torch.tensor([-1, 5]), 3)[0, 0]


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="multiple of n_head"):
        TransformerConfig(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="even"):
        TransformerConfig(n_embd=6, n_head=2)
    with pytest.raises(ValueError, match="window"):
        TransformerConfig(window=0)
    with pytest.raises(ValueError, match="dropout"):
        TransformerConfig(dropout=1.0)


def test_future_steps_do_not_change_the_past():
    model = tiny()
    x = torch.randn(2, 6 * 3, 16, dtype=torch.float64)
    steps = step_index(6, 3)
    full = model(x, steps)
    y = x.clone()
    y[:, 4 * 3:] = torch.randn_like(y[:, 4 * 3:])  # change steps 4 and 5
    assert torch.allclose(model(y, steps)[:, :4 * 3], full[:, :4 * 3], atol=1e-12)
    # but a token does see the other streams of its own step
    z = x.clone()
    z[:, 3 * 3 + 2] += torch.randn(16, dtype=torch.float64)  # (LayerNorm would undo a constant shift)
    assert not torch.allclose(model(z, steps)[:, 3 * 3], full[:, 3 * 3])


def test_attention_depends_only_on_step_distance():
    """Rotary positions: shifting every step by a constant changes nothing (what lets the cache slide)."""
    model = tiny(window=8)
    x = torch.randn(1, 5 * 2, 16, dtype=torch.float64)
    a = model(x, step_index(5, 2, start=0))
    b = model(x, step_index(5, 2, start=1000))
    assert torch.allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("chunks", [[1] * 11, [3, 1, 1, 6], [11]])
def test_cached_chunks_equal_recomputing_each_window(chunks):
    """Appending steps through the ring buffer (past its size) gives what a full forward gives, and a
    forward over the receptive field alone (n_layer * (window - 1) + 1 steps) too."""
    W, S = 4, 3
    model = tiny(window=W)
    n = sum(chunks)
    x = torch.randn(2, n * S, 16, dtype=torch.float64)
    cache = model.new_cache(2, S)
    outs, pos = [], 0
    for c in chunks:
        outs.append(model(x[:, pos * S:(pos + c) * S], step_index(c, S, start=pos), cache))
        pos += c
    cached = torch.cat(outs, dim=1)
    assert torch.allclose(cached, model(x, step_index(n, S)), atol=1e-10)
    field = model.receptive_field
    assert field == 2 * (W - 1) + 1
    for step in range(n):
        lo = max(0, step - field + 1)
        ref = model(x[:, lo * S:(step + 1) * S], step_index(step + 1 - lo, S, start=0))[:, -S:]
        assert torch.allclose(cached[:, step * S:(step + 1) * S], ref, atol=1e-10), step
    # Recomputing only the last `window` steps (Bailando's loop) is another function once the
    # receptive field exceeds it: layer 2 of a step sees layer 1 of steps that saw further back.
    late = n - 1
    short = model(x[:, (late - W + 1) * S:(late + 1) * S], step_index(W, S))[:, -S:]
    assert not torch.allclose(cached[:, late * S:], short, atol=1e-6)
    assert cache.next_step == n
    assert cache.k.shape[3] == W * S  # bounded by the window, whatever the length


def test_cache_rejects_a_gap_or_a_partial_step():
    model = tiny()
    cache = model.new_cache(1, 2)
    model(torch.randn(1, 4, 16, dtype=torch.float64), step_index(2, 2), cache)
    with pytest.raises(ValueError, match="from step 2"):
        model(torch.randn(1, 2, 16, dtype=torch.float64), step_index(1, 2, start=3), cache)
    with pytest.raises(ValueError, match="whole steps"):
        model(torch.randn(1, 3, 16, dtype=torch.float64), torch.tensor([2, 2, 3]), cache)


def test_rotary_angles_stay_float64_exact_under_bf16_weights():
    model = tiny()
    a = model.rotary_angles(torch.tensor([10_000]), torch.float32)
    model.to(torch.bfloat16)
    b = model.rotary_angles(torch.tensor([10_000]), torch.float32)
    assert torch.equal(a, b)  # frequencies are not stored, so a cast cannot coarsen them
    inv0 = 1.0  # the first pair turns one radian per step
    assert float(a[0, 0]) == pytest.approx(10_000 * inv0)


def test_reorder_repeats_rows():
    cache = KVCache(TransformerConfig(n_layer=1, n_embd=8, n_head=2, window=2), batch=2, tokens_per_step=1)
    cache.k[:, 1] = 1.0
    cache.reorder(torch.tensor([1, 1, 0]))
    assert cache.batch == 3 and float(cache.k[:, 0].mean()) == 1.0 and float(cache.k[:, 2].mean()) == 0.0


def test_skinny_linear_is_nn_linear():
    from gpt.transformer import Linear

    torch.manual_seed(0)
    lin = Linear(8, 5)
    ref = torch.nn.Linear(8, 5)
    ref.load_state_dict(lin.state_dict())
    for shape in [(1, 3, 8), (2, 8), (40, 8)]:  # few rows (W @ x^T) and many (x @ W^T)
        x = torch.randn(*shape, requires_grad=True)
        torch.testing.assert_close(lin(x), ref(x))
        lin(x).sum().backward()
        assert x.grad is not None and lin.weight.grad is not None
    nobias = Linear(8, 5, bias=False)
    torch.testing.assert_close(nobias(torch.ones(3, 8)), torch.ones(3, 8) @ nobias.weight.t())


def test_skinny_linear_without_autograd_uses_a_packed_weight_that_follows_updates():
    from gpt import transformer
    from gpt.transformer import Linear

    torch.manual_seed(0)
    lin = Linear(8, 5)
    ref = torch.nn.Linear(8, 5)
    ref.load_state_dict(lin.state_dict())
    x = torch.randn(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(lin(x), ref(x))
        if transformer._ONEDNN:
            assert id(lin.weight) in transformer._PACKED  # the no-grad path packed it
        lin.weight.add_(1.0)  # an in-place update (an optimiser step) must not serve the stale copy
        ref.weight.add_(1.0)
        torch.testing.assert_close(lin(x), ref(x))
        torch.testing.assert_close(lin(x[None]), ref(x[None]))  # leading dims kept
    if transformer._ONEDNN:
        key = id(lin.weight)
        del lin
        assert key not in transformer._PACKED  # the copy goes with its weight


def test_rotate_matches_rotary_embedding_torch():
    from rotary_embedding_torch import apply_rotary_emb

    from gpt.transformer import rotate

    model = tiny()
    angles = model.rotary_angles(torch.arange(7).repeat_interleave(2), torch.float64)  # (14, hd)
    x = torch.randn(2, 2, 14, angles.shape[-1], dtype=torch.float64)  # (B, H, N, hd)
    torch.testing.assert_close(rotate(x, angles.cos(), angles.sin()), apply_rotary_emb(angles, x))


def lookahead(window: int = 3, ahead: int = 2, layers: int = 2) -> Transformer:
    torch.manual_seed(1)
    config = TransformerConfig(n_layer=layers, n_embd=16, n_head=2, window=window, ahead=ahead, dropout=0.0)
    return Transformer(config).double().eval()


def test_lookahead_mask_by_hand():
    steps = torch.arange(5)
    m = window_mask(steps, steps, window=2, ahead=1)  # step q sees q - 1 .. q + 1
    expected = torch.tensor([
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 0, 1, 1],
    ], dtype=torch.bool)
    assert torch.equal(m, expected)
    with pytest.raises(ValueError, match="ahead"):
        TransformerConfig(ahead=-1)


def test_lookahead_reach_is_exact_and_there_is_no_cache():
    model = lookahead(window=3, ahead=2, layers=2)
    assert model.receptive_field == 5 and model.reach_ahead == 4
    x = torch.randn(1, 20, 16, dtype=torch.float64)
    steps = torch.arange(20)
    base = model(x, steps)
    for j in (14, 5, 1):  # a change at step j reaches the outputs of steps j - 4 .. j + 4, no further
        y = x.clone()
        y[0, j] += torch.randn(16, dtype=torch.float64)  # not a constant: LayerNorm removes those
        changed = (model(y, steps) - base).abs().amax(-1)[0] > 1e-12
        lo, hi = j - model.reach_ahead, j + model.receptive_field - 1
        assert set(torch.nonzero(changed)[:, 0].tolist()) == set(range(max(0, lo), min(20, hi + 1)))
    with pytest.raises(ValueError, match="no KV cache"):
        model.new_cache(1, 1)


@pytest.mark.parametrize("tokens_per_step, chunk", [(1, 1), (1, 6), (2, 5), (2, 40)])
def test_chunked_forward_equals_the_whole_sequence(tokens_per_step, chunk):
    model = lookahead(window=3, ahead=2, layers=3)
    n = 23
    x = torch.randn(2, n * tokens_per_step, 16, dtype=torch.float64)
    whole = model(x, step_index(n, tokens_per_step))
    torch.testing.assert_close(model.forward_chunked(x, tokens_per_step, chunk), whole, rtol=1e-10, atol=1e-10)
    causal = tiny(window=4, layers=2)  # a causal stack chunks the same way (no reach ahead)
    torch.testing.assert_close(causal.forward_chunked(x, tokens_per_step, chunk),
                               causal(x, step_index(n, tokens_per_step)), rtol=1e-10, atol=1e-10)
