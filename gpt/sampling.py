"""Sampling as pure functions of logits, and the one generation loop every generator and RL rollout uses.

A generator model (the solo GPT, the duet follower) implements :class:`StepModel`: given the
conditioning of a run of steps (music, a leader's tokens) and the tokens it sampled at the step
before each, it returns logits for every stream it samples. :func:`generate`
runs it prefill-then-step: one forward over the prompt, then one forward per step through a
:class:`gpt.transformer.KVCache`. With ``use_cache=False`` it recomputes every step from scratch over
the model's receptive field instead (the reference the cached loop must match token for token), or
over the last ``recompute_steps`` steps (``model.window``: Bailando's loop, for speed comparisons; a
different function once the receptive field is longer than the window).

Randomness is explicit: each step draws Gumbel noise from the caller's ``torch.Generator`` and the
token is ``argmax(filtered logits / T + noise)``, so the same generator gives the same dance however
the logits were computed (cached or not, batched or not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

import torch
from torch.nn import functional as F

from data.errors import is_non_negative

from gpt.transformer import KVCache


# --------------------------------------------------------------------------------------------------
# Pure functions of logits
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingConfig:
    """How tokens are drawn from logits."""

    temperature: float = 1.0
    """Divides the logits; 0 is greedy (argmax)."""
    top_k: int = 0
    """Keep the k most likely tokens (0: all)."""
    top_p: float = 1.0
    """Keep the smallest set of most likely tokens whose probability reaches p (1: all)."""

    def __post_init__(self) -> None:
        if not is_non_negative(self.temperature):
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if not (isinstance(self.top_k, int) and self.top_k >= 0):
            raise ValueError(f"top_k must be an integer >= 0, got {self.top_k!r}")
        if not (is_non_negative(self.top_p) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Logits with all but the ``k`` largest per row set to -inf (``k`` 0 or >= vocabulary: unchanged)."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the most likely tokens until their probability reaches ``p`` (the token
    that crosses it included, so at least one survives); the rest -inf."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above each
    drop_sorted = before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def sampling_logits(logits: torch.Tensor, config: SamplingConfig) -> torch.Tensor:
    """The logits of the distribution tokens are drawn from: tempered, then top-k, then top-p (float32).
    Greedy keeps the raw logits (argmax is all that is read)."""
    logits = logits.float()
    if config.greedy:
        return logits
    logits = logits / config.temperature
    return top_p_filter(top_k_filter(logits, config.top_k), config.top_p)


def gumbel_noise(shape: torch.Size | tuple[int, ...], generator: torch.Generator | None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log U)``, drawn on the CPU from ``generator`` (so a seed means the
    same draws on every device), then moved."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64).clamp_(1e-12, 1 - 1e-12)
    return (-torch.log(-torch.log(u))).float().to(device)


def draw(logits: torch.Tensor, config: SamplingConfig, noise: torch.Tensor | None
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens ``(...)`` and their log-probabilities under the sampling distribution, from ``logits``
    ``(..., K)`` and Gumbel ``noise`` of the same shape (unused when greedy)."""
    filtered = sampling_logits(logits, config)
    if config.greedy or noise is None:
        tokens = filtered.argmax(dim=-1)
    else:
        tokens = (filtered + noise).argmax(dim=-1)
    logp = F.log_softmax(filtered, dim=-1).gather(-1, tokens[..., None])[..., 0]
    return tokens, logp


# --------------------------------------------------------------------------------------------------
# The generation loop
# --------------------------------------------------------------------------------------------------
class StepModel(Protocol):
    """What :func:`generate` needs from a generator."""

    streams: tuple[str, ...]
    """The streams sampled at every step (e.g. ``("upper", "lower")``)."""
    window: int
    """Steps one attention layer sees (the transformer's window)."""
    receptive_field: int
    """Steps an output depends on through all layers."""

    def new_cache(self, batch: int) -> KVCache: ...

    def forward_steps(self, condition: Mapping[str, torch.Tensor], previous: Mapping[str, torch.Tensor],
                      start: int, cache: KVCache | None) -> dict[str, torch.Tensor]:
        """Logits ``{stream: (B, n, K)}`` of steps ``start ..
        start + n - 1``, given their conditioning (each ``(B, n, ...)``, sliced by step) and the tokens of
        the step before each (``{stream: (B, n)}``; the model's start token stands for step -1)."""
        ...

    def start_tokens(self, batch: int) -> dict[str, torch.Tensor]:
        """``{stream: (B,)}``: what stands for the tokens before step 0."""
        ...


@dataclass
class Generated:
    """What :func:`generate` returns; every tensor is ``(B, steps)`` over the generated steps (the prompt
    excluded)."""

    tokens: dict[str, torch.Tensor]
    logp: dict[str, torch.Tensor]
    prompt_steps: int = 0


def _slice(condition: Mapping[str, torch.Tensor], lo: int, hi: int) -> dict[str, torch.Tensor]:
    return {k: v[:, lo:hi] for k, v in condition.items()}


def generate(model: StepModel, condition: Mapping[str, torch.Tensor], num_steps: int,
             sampling: SamplingConfig | Mapping[str, SamplingConfig] = SamplingConfig(), *,
             prompt: Mapping[str, torch.Tensor] | None = None, generator: torch.Generator | None = None, use_cache: bool = True, recompute_steps: int | None = None,
             progress=None) -> Generated:
    """Sample ``num_steps`` steps of every stream of ``model``.

    Args:
        model: a :class:`StepModel`.
        condition: ``{name: (B, >= prompt + num_steps, ...)}`` per-step conditioning (music, leader).
        num_steps: steps to generate after the prompt.
        sampling: temperature / top-k / top-p (temperature 0: greedy), one for every stream or
            ``{stream: config}`` (e.g. a cooler relative-translation stream in a duet).
        prompt: ``{stream: (B, P)}`` known tokens of the first P steps (a seed motion), or None.
        generator: the source of the sampling noise (seed it for a reproducible dance).
        use_cache: one forward per step through a KV cache (True), or every step recomputed (False).
        recompute_steps: without the cache, the steps recomputed per token; default the receptive
            field (exact: the cached loop's tokens).
        progress: an optional callable, ``progress(n)`` after every ``n`` generated steps.
    Returns:
        :class:`Generated`: tokens and their log-probabilities under the sampling distribution.
    """
    streams = model.streams
    B = next(iter(condition.values())).shape[0]
    P = 0 if prompt is None else next(iter(prompt.values())).shape[1]
    total = P + num_steps
    for name, c in condition.items():
        if c.shape[1] < total:
            raise ValueError(f"condition {name!r} has {c.shape[1]} steps, {total} are needed")
    start = model.start_tokens(B)
    # history[s][:, i] = the token of step i - 1 (what step i is fed); column 0 is the start token.
    history = {s: torch.empty(B, total + 1, dtype=torch.long, device=start[s].device) for s in streams}
    for s in streams:
        history[s][:, 0] = start[s]
        if P:
            history[s][:, 1:P + 1] = prompt[s]
    out_tokens = {s: [] for s in streams}
    out_logp = {s: [] for s in streams}
    cache = model.new_cache(B) if use_cache else None
    recompute = model.receptive_field if recompute_steps is None else recompute_steps

    def run(lo: int, hi: int) -> dict[str, torch.Tensor]:
        """Logits of the last of steps ``lo .. hi - 1``."""
        if use_cache:
            lo = cache.next_step  # everything before is cached
        else:
            lo = max(0, hi - recompute)
        out = model.forward_steps(_slice(condition, lo, hi), {s: history[s][:, lo:hi] for s in streams}, lo, cache)
        return {k: v[:, -1] for k, v in out.items()}

    per_stream = dict(sampling) if isinstance(sampling, Mapping) else dict.fromkeys(streams, sampling)
    if set(per_stream) != set(streams):
        raise ValueError(f"sampling configs for {sorted(per_stream)}, the model samples {sorted(streams)}")
    with torch.no_grad():
        for step in range(P, total):
            last = run(0, step + 1)  # prefill (the prompt and the first step) at once, then one step each
            # The same noise draws whatever the configs (a greedy stream just ignores its own).
            noise = None if all(c.greedy for c in per_stream.values()) else {
                s: gumbel_noise(last[s].shape, generator, last[s].device) for s in streams}
            for s in streams:
                tok, lp = draw(last[s], per_stream[s], None if noise is None else noise[s])
                history[s][:, step + 1] = tok
                out_tokens[s].append(tok)
                out_logp[s].append(lp)
            if progress is not None:
                progress(1)
    stack = lambda xs: torch.stack(xs, dim=1) if xs else torch.empty(B, 0)  # noqa: E731
    return Generated(tokens={s: stack(out_tokens[s]) for s in streams}, logp={s: stack(out_logp[s]) for s in streams},
                     prompt_steps=P)
