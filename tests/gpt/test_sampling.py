"""Sampling as pure functions of logits, and the generation loop: cached = recomputed, token for token."""

from __future__ import annotations

import math

import pytest
import torch

from gpt.sampling import SamplingConfig, draw, generate, gumbel_noise, sampling_logits, top_k_filter, top_p_filter
from gpt.solo import SoloGPT, SoloGPTConfig
from gpt.transformer import TransformerConfig


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    out = top_k_filter(logits, 2)
    assert torch.equal(torch.isfinite(out), torch.tensor([[False, True, True, False]]))
    assert torch.equal(top_k_filter(logits, 0), logits) and torch.equal(top_k_filter(logits, 9), logits)


def test_top_p_by_hand():
    logits = torch.log(torch.tensor([[0.15, 0.5, 0.05, 0.3]]))
    kept = lambda p: torch.isfinite(top_p_filter(logits, p))[0].tolist()  # noqa: E731
    assert kept(0.7) == [False, True, False, True]  # 0.5, then 0.3 crosses 0.7
    assert kept(0.5) == [False, True, False, False]  # 0.5 reaches it alone
    assert kept(0.94) == [True, True, False, True]  # 0.15 crosses 0.94 (0.95): 0.05 is dropped
    assert kept(0.96) == [True] * 4
    assert kept(1.0) == [True] * 4


def test_temperature_and_greedy():
    logits = torch.tensor([2.0, 1.0, 0.0])
    assert torch.allclose(sampling_logits(logits, SamplingConfig(temperature=2.0)), logits / 2)
    tok, logp = draw(logits, SamplingConfig(temperature=0.0), noise=None)
    assert int(tok) == 0 and float(logp) == pytest.approx(math.log(torch.softmax(logits, 0)[0].item()))


def test_gumbel_draws_follow_the_distribution():
    g = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([0.6, 0.3, 0.1])).expand(20000, 3)
    tok, logp = draw(logits, SamplingConfig(), gumbel_noise(logits.shape, g))
    freq = torch.bincount(tok, minlength=3).float() / tok.numel()
    assert torch.allclose(freq, torch.tensor([0.6, 0.3, 0.1]), atol=0.015)
    assert torch.allclose(logp, torch.log(torch.tensor([0.6, 0.3, 0.1]))[tok], atol=1e-6)
    # top-k 1 is greedy whatever the noise
    tok1, _ = draw(logits, SamplingConfig(top_k=1), gumbel_noise(logits.shape, g))
    assert bool((tok1 == 0).all())


@pytest.mark.parametrize("bad", [dict(temperature=-1.0), dict(top_k=-1), dict(top_p=0.0), dict(top_p=1.5)])
def test_sampling_config_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        SamplingConfig(**bad)


def tiny_gpt(window: int = 3, layers: int = 2, genres: tuple[str, ...] = ("BR", "PO")) -> SoloGPT:
    torch.manual_seed(0)
    cfg = SoloGPTConfig(transformer=TransformerConfig(n_layer=layers, n_embd=32, n_head=4, window=window, dropout=0.0),
                        codebook_size=12, frames_per_token=2, music_dim=3, music_context=1, genres=genres,
                        frozen_layers=1)
    return SoloGPT(cfg).double().eval()


def condition(model: SoloGPT, steps: int, batch: int = 2) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    c = model.config
    music = model.music_tokens(torch.randn(batch, steps * c.frames_per_token, c.music_dim, dtype=torch.float64))
    return {"music": music, "genre": torch.tensor([[1], [0]]).expand(batch, steps)}


@pytest.mark.parametrize("sampling", [SamplingConfig(), SamplingConfig(temperature=0.8, top_k=5, top_p=0.9),
                                      SamplingConfig(temperature=0.0)])
def test_cached_and_recomputed_generation_give_the_same_tokens(sampling):
    model = tiny_gpt()
    n = 14  # well past the receptive field (2 * (3 - 1) + 1 = 5 steps)
    cond = condition(model, n)
    runs = [generate(model, cond, n, sampling, generator=torch.Generator().manual_seed(7), use_cache=c)
            for c in (True, False)]
    for part in model.streams:
        assert torch.equal(runs[0].tokens[part], runs[1].tokens[part])
        assert torch.allclose(runs[0].logp[part], runs[1].logp[part], atol=1e-9)
        assert runs[0].tokens[part].shape == (2, n)
        assert int(runs[0].tokens[part].max()) < model.config.codebook_size  # never the start token
    if not sampling.greedy:  # the noise matters: another seed, another dance
        other = generate(model, cond, n, sampling, generator=torch.Generator().manual_seed(8))
        assert any(not torch.equal(other.tokens[p], runs[0].tokens[p]) for p in model.streams)


def test_generation_with_a_prompt_continues_it():
    model = tiny_gpt()
    cond = condition(model, 10)
    prompt = {p: torch.randint(0, 12, (2, 4)) for p in model.streams}
    g = lambda c: generate(model, cond, 6, SamplingConfig(), prompt=prompt,  # noqa: E731
                           generator=torch.Generator().manual_seed(3), use_cache=c)
    a, b = g(True), g(False)
    assert a.prompt_steps == 4 and a.tokens["upper"].shape == (2, 6)
    assert all(torch.equal(a.tokens[p], b.tokens[p]) for p in model.streams)
    # log-probs are those of the logits the model gives for the sampled tokens, teacher-forced
    full = {p: torch.cat([prompt[p], a.tokens[p]], 1) for p in model.streams}
    prev = {p: torch.nn.functional.pad(full[p][:, :-1], (1, 0), value=model.start_token) for p in model.streams}
    logits = model(cond["music"], prev, cond["genre"])
    for p in model.streams:
        lp = torch.log_softmax(logits[p][:, 4:].float(), -1).gather(-1, a.tokens[p][..., None])[..., 0]
        assert torch.allclose(lp, a.logp[p], atol=1e-5)


def test_generation_checks_the_condition_length():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="steps"):
        generate(model, condition(model, 3), 5)


def test_bailando_window_recompute_is_available_and_differs_past_the_window():
    model = tiny_gpt(window=3, layers=2)
    cond = condition(model, 10)
    greedy = SamplingConfig(temperature=0.0)
    exact = generate(model, cond, 10, greedy, use_cache=True)
    short = generate(model, cond, 10, greedy, use_cache=False, recompute_steps=model.window)
    for p in model.streams:  # identical while the window covers everything the step depends on
        assert torch.equal(exact.tokens[p][:, :3], short.tokens[p][:, :3])


def encoder_gpt(ahead: int = 2) -> SoloGPT:
    torch.manual_seed(0)
    cfg = SoloGPTConfig(transformer=TransformerConfig(n_layer=2, n_embd=32, n_head=4, window=3, dropout=0.0),
                        music_encoder=TransformerConfig(n_layer=2, n_embd=32, n_head=4, window=2, ahead=ahead,
                                                        dropout=0.0),
                        codebook_size=12, frames_per_token=2, music_dim=3, music_context=1, genres=("BR", "PO"),
                        frozen_layers=1)
    return SoloGPT(cfg).double().eval()


def test_music_encoder_config_is_checked():
    assert encoder_gpt().config.music_reach == (2, 4)
    assert encoder_gpt().config.music_margin == (1 + 4) * 2
    with pytest.raises(ValueError, match="n_embd"):
        SoloGPTConfig(transformer=TransformerConfig(n_embd=32, n_head=4),
                      music_encoder=TransformerConfig(n_embd=16, n_head=2))


@pytest.mark.parametrize("with_encoder", [False, True])
def test_a_window_with_the_margin_gets_the_music_tokens_of_the_whole_song(with_encoder, monkeypatch):
    """What training sees (a window of a song plus ``music_margin`` frames each side) is what
    generation computes over the whole song, long songs in encoder chunks included."""
    model = encoder_gpt() if with_encoder else tiny_gpt()
    c = model.config
    f, m = c.frames_per_token, c.music_margin
    song = torch.randn(1, 40 * f, c.music_dim, dtype=torch.float64)  # 40 tokens
    monkeypatch.setattr("gpt.solo.MUSIC_ENCODER_CHUNK", 7)
    whole = model.music_tokens(song)  # (1, 40, D)
    assert whole.shape == (1, 40, 32)
    for start, n in ((10, 12), (25, 15)):
        window = song[:, start * f - m:(start + n) * f + m]
        torch.testing.assert_close(model.music_tokens(window, num_tokens=n, margin=m), whole[:, start:start + n],
                                   rtol=1e-10, atol=1e-10)
    if with_encoder:  # less margin than the encoder reaches: the window's edge tokens differ
        short = song[:, 10 * f - 2 * f:22 * f + 2 * f]
        assert not torch.allclose(model.music_tokens(short, num_tokens=12, margin=2 * f)[:, -1], whole[:, 21])


def test_generation_with_a_music_encoder_is_the_same_cached_or_recomputed():
    model = encoder_gpt()
    cond = condition(model, 12)
    runs = [generate(model, cond, 12, SamplingConfig(), generator=torch.Generator().manual_seed(3), use_cache=c)
            for c in (True, False)]
    assert all(torch.equal(runs[0].tokens[p], runs[1].tokens[p]) for p in model.config.parts)
