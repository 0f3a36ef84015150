"""The interaction GPT: its layout, the once-per-sequence leader and music streams, and cached
generation over the whole song."""

from __future__ import annotations

import pytest
import torch

from duet.model import TRANSLATION, DuetGPT, DuetGPTConfig
from gpt.sampling import SamplingConfig, generate
from gpt.solo import shift_right
from gpt.transformer import TransformerConfig

PARTS = ("upper", "lower", "lhand", "rhand")


def tiny_duet(leader_ahead: int | None = 2, music_ahead: int | None = 1) -> DuetGPT:
    torch.manual_seed(0)
    enc = lambda ahead: None if ahead is None else TransformerConfig(  # noqa: E731
        n_layer=2, n_embd=32, n_head=4, window=2, ahead=ahead, dropout=0.0)
    cfg = DuetGPTConfig(transformer=TransformerConfig(n_layer=2, n_embd=32, n_head=4, window=3, dropout=0.0),
                        parts=PARTS, codebook_size=10, translation_codebook_size=6, frames_per_token=2,
                        music_dim=3, music_context=1, music_encoder=enc(music_ahead), leader_encoder=enc(leader_ahead),
                        frozen_layers=1)
    return DuetGPT(cfg).double().eval()


def conditions(model: DuetGPT, n: int, batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    music = torch.randn(batch, n * model.config.frames_per_token, model.config.music_dim, generator=g,
                        dtype=torch.float64)
    leader = {p: torch.randint(0, model.config.codebook_size, (batch, n), generator=g) for p in PARTS}
    return {"music": model.music_tokens(music, num_tokens=n), "leader": model.leader_tokens(leader)}


def test_config_layout_and_checks():
    model = tiny_duet()
    c = model.config
    assert model.streams == (*PARTS, TRANSLATION)
    assert c.vocab[TRANSLATION] == 6 and c.vocab["upper"] == 10
    assert c.tokens_per_step == 2 + 5  # music, leader, four parts, translation
    assert model.start_ids == {**dict.fromkeys(PARTS, 10), TRANSLATION: 6}
    assert model.heads[TRANSLATION].out_features == 6
    assert c.leader_reach == (2, 4)  # 2 layers x (window 2 - 1) back, 2 layers x 2 ahead
    with pytest.raises(ValueError, match="leader_encoder.n_embd"):
        DuetGPTConfig(transformer=TransformerConfig(n_embd=32, n_head=4),
                      leader_encoder=TransformerConfig(n_embd=16, n_head=4))
    with pytest.raises(ValueError, match="transl"):
        DuetGPTConfig(parts=("upper", TRANSLATION))
    with pytest.raises(ValueError, match="translation_codebook_size"):
        DuetGPTConfig(translation_codebook_size=0)


@pytest.mark.parametrize("sampling", [SamplingConfig(temperature=0.0), SamplingConfig(temperature=1.0, top_p=1.0)])
def test_cached_generation_equals_recomputation_for_the_whole_song(sampling):
    model = tiny_duet()
    n = 17  # several windows and more than the receptive field (2 layers x 2 + 1 = 5)
    cond = conditions(model, n)
    runs = [generate(model, cond, n, sampling, generator=torch.Generator().manual_seed(5), use_cache=c)
            for c in (True, False)]
    for s in model.streams:
        assert runs[0].tokens[s].shape == (2, n)  # every step of the song, no missing tail
        assert torch.equal(runs[0].tokens[s], runs[1].tokens[s])
        assert int(runs[0].tokens[s].max()) < model.config.vocab[s]  # never a start token
    if sampling.greedy:
        return
    # the log-probabilities are the teacher-forced model's for the sampled tokens
    prev = shift_right(runs[0].tokens, model.start_ids)
    logits = model(cond["music"], prev, leader=cond["leader"])
    for s in model.streams:
        lp = torch.log_softmax(logits[s].float(), -1).gather(-1, runs[0].tokens[s][..., None])[..., 0]
        assert torch.allclose(lp, runs[0].logp[s], atol=1e-5)


def test_leader_tokens_with_a_margin_equal_the_whole_sequence():
    model = tiny_duet(leader_ahead=2)
    g = torch.Generator().manual_seed(1)
    leader = {p: torch.randint(0, 10, (1, 30), generator=g) for p in PARTS}
    whole = model.leader_tokens(leader)  # (1, 30, D)
    back, ahead = model.config.leader_reach
    lo, hi = 10, 18
    cut = {p: t[:, lo - back:hi + ahead] for p, t in leader.items()}
    margin = max(back, ahead)
    padded = {p: t[:, lo - margin:hi + margin] for p, t in leader.items()}
    torch.testing.assert_close(model.leader_tokens(padded, num_tokens=hi - lo, margin=margin), whole[:, lo:hi])
    short = {p: t[:, lo:hi] for p, t in leader.items()}  # no context: the edges see "no leader"
    assert not torch.allclose(model.leader_tokens(short), whole[:, lo:hi])
    # exactly the reach of context (2 tokens before, 4 after) is enough
    torch.testing.assert_close(model.leader_tokens(cut, num_tokens=hi - lo, margin=back), whole[:, lo:hi])


def test_the_follower_sees_the_leader_exactly_its_reach_ahead():
    """A change of the leader at step j moves the follower's logits from step j - (leader encoder's
    reach ahead) on, and not before: the follower watches where the leader is going, no further."""
    model = tiny_duet(leader_ahead=2, music_ahead=None)
    n, j = 20, 14
    g = torch.Generator().manual_seed(2)
    music = model.music_tokens(torch.randn(1, 2 * n, 3, generator=g, dtype=torch.float64), num_tokens=n)
    leader = {p: torch.randint(0, 10, (1, n), generator=g) for p in PARTS}
    prev = {s: torch.randint(0, k, (1, n), generator=g) for s, k in model.config.vocab.items()}
    base = model(music, prev, leader=model.leader_tokens(leader))
    moved = {p: t.clone() for p, t in leader.items()}
    moved["upper"][0, j] = (moved["upper"][0, j] + 3) % 10
    other = model(music, prev, leader=model.leader_tokens(moved))
    changed = torch.stack([(other[s] - base[s]).abs().amax(-1)[0] for s in model.streams]).amax(0) > 1e-12  # (n,)
    first = j - model.config.leader_reach[1]
    assert not changed[:first].any() and changed[first]


def test_a_leader_stream_without_encoder_is_per_step():
    model = tiny_duet(leader_ahead=None, music_ahead=None)
    assert model.config.leader_reach == (0, 0)
    leader = {p: torch.randint(0, 10, (2, 7)) for p in PARTS}
    x = model.leader_tokens(leader)
    assert x.shape == (2, 7, 32)
    emb = sum(model.token_embedding[p](leader[p]) for p in PARTS)
    torch.testing.assert_close(x, model.leader_in(emb))
    with pytest.raises(ValueError, match="leader"):
        model(torch.zeros(2, 7, 32, dtype=torch.float64), shift_right(
            {s: torch.zeros(2, 7, dtype=torch.long) for s in model.streams}, model.start_ids))


def test_sampling_per_stream():
    model = tiny_duet()
    cond = conditions(model, 9)
    hot = SamplingConfig(temperature=1.0)
    run = lambda sampling: generate(model, cond, 9, sampling, generator=torch.Generator().manual_seed(2))  # noqa: E731
    one, same = run(hot), run(dict.fromkeys(model.streams, hot))
    assert all(torch.equal(one.tokens[s], same.tokens[s]) for s in model.streams)  # the same draws
    cool = run({**dict.fromkeys(model.streams, hot), TRANSLATION: SamplingConfig(temperature=0.0)})
    # the greedy stream takes its argmax at every step, given what the others sampled
    prev = shift_right(cool.tokens, model.start_ids)
    logits = model(cond["music"], prev, leader=cond["leader"])
    assert torch.equal(cool.tokens[TRANSLATION], logits[TRANSLATION].argmax(-1))
    with pytest.raises(ValueError, match="sampling configs"):
        run({"upper": hot})
