"""The transformer every generator in pasdeux runs on: pre-LN blocks, SDPA attention, rotary positions
and an explicit key/value cache that survives a sliding window.

Sequences are made of *steps*: each step holds the same number of tokens (one per stream: music, upper
and lower body for the solo GPT; more for the duet follower), laid out step-major, ``[s0 t0, s0 t1, ...,
s1 t0, ...]``. A token at step ``i`` attends to every token of steps ``i - window + 1 .. i`` (Bailando's
tiled causal mask: the streams of one step see each other, no step sees the future), so a model is
told the window once, in its config, and training, recomputation and cached decoding agree.

This is sliding-window attention over the whole sequence (as Mistral's), not Bailando's loop of
independent windows: a layer's keys at step ``j`` depend on steps ``j - window + 1 .. j`` of the layer
below, whatever step is being decoded, so they can be computed once. Positions are rotary and counted
in steps (every token of a step has the step's position), so attention depends only on how far apart
two steps are and cached keys stay valid as the window slides: :class:`KVCache` keeps the last
``window`` steps of every layer in a ring buffer, a song of any length costs one forward over one step
per token, and memory is bounded by the window. Stacked, ``n_layer`` layers see
``n_layer * (window - 1) + 1`` steps back (:attr:`Transformer.receptive_field`). Bailando instead
restarts learned absolute positions at 0 in every 28-step window and recomputes the window through all
12 layers for every token: nothing computed for one token is valid for the next.

With ``ahead > 0`` the same stack is an encoder of a stream known in advance (a song's music, a duet's
leader): a token also sees ``ahead`` later steps. Such a stack has no cache; it runs once over a whole
sequence, a long one in chunks with its reach as context (:meth:`Transformer.forward_chunked`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from data.errors import is_non_negative, is_positive_int


@dataclass
class TransformerConfig:
    """Sizes of a transformer stack (Bailando's GPT: 12 layers, 768 wide, 12 heads, dropout 0.1)."""

    n_layer: int = 12
    """Transformer blocks."""
    n_embd: int = 768
    """Width of every token."""
    n_head: int = 12
    """Attention heads (``n_embd`` must divide by it; the head width must be even for rotary positions)."""
    mlp_ratio: float = 4.0
    """Hidden width of each block's MLP, in multiples of ``n_embd``."""
    dropout: float = 0.1
    """Dropout on attention weights and on both residual branches (training only)."""
    window: int = 29
    """Steps a token attends to: its own and ``window - 1`` before (Bailando: 29)."""
    ahead: int = 0
    """Steps after its own a token also attends to: 0 for a generator (causal); more for an encoder of
    a stream known in advance (a song's music, a duet's leader), which then has no KV cache."""
    rope_base: float = 10000.0
    """Base of the rotary frequencies."""
    bias: bool = True
    """Biases in the linear layers and LayerNorms."""

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_embd", "n_head", "window"):
            if not is_positive_int(getattr(self, name)):
                raise ValueError(f"TransformerConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if not (isinstance(self.ahead, int) and not isinstance(self.ahead, bool) and self.ahead >= 0):
            raise ValueError(f"TransformerConfig.ahead must be an integer >= 0, got {self.ahead!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"TransformerConfig.n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if (self.n_embd // self.n_head) % 2:
            raise ValueError(f"TransformerConfig: the head width n_embd / n_head = {self.n_embd // self.n_head} "
                             "must be even (rotary positions turn pairs of channels)")
        if not (is_non_negative(self.dropout) and self.dropout < 1):
            raise ValueError(f"TransformerConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not (is_non_negative(self.mlp_ratio) and self.mlp_ratio > 0):
            raise ValueError(f"TransformerConfig.mlp_ratio must be > 0, got {self.mlp_ratio!r}")
        if not (is_non_negative(self.rope_base) and self.rope_base > 1):
            raise ValueError(f"TransformerConfig.rope_base must be > 1, got {self.rope_base!r}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


def window_mask(query_steps: torch.Tensor, key_steps: torch.Tensor, window: int, ahead: int = 0) -> torch.Tensor:
    """``(Nq, Nk)`` bool, True where a query may attend to a key: ``q - window < k <= q + ahead`` in
    steps. Keys with a negative step (empty cache slots) are never attended to."""
    q, k = query_steps[:, None], key_steps[None, :]
    return (k >= 0) & (k <= q + ahead) & (k > q - window)


class KVCache:
    """Keys and values of the last ``window`` steps of every layer, in a ring buffer.

    Step ``s`` lives in slot ``s % window``; its ``tokens_per_step`` tokens in that slot's rows, in
    stream order. Keys are stored rotated (rotary positions are relative), so they never need
    recomputing. ``slot_step`` says which step each row holds (-1: empty); it is shared by the batch,
    which advances in lockstep.

    Args:
        config: the transformer's config (layers, heads, window).
        batch: sequences decoded together.
        tokens_per_step: tokens in one step (streams).
        device, dtype: those of the model's weights.
    """

    def __init__(self, config: TransformerConfig, batch: int, tokens_per_step: int,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.window, self.tokens_per_step = config.window, tokens_per_step
        rows = config.window * tokens_per_step
        shape = (config.n_layer, batch, config.n_head, rows, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)  # (L, B, H, W*S, hd)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.slot_step = torch.full((rows,), -1, dtype=torch.long, device=device)  # (W*S,)
        self.next_step = 0
        """The step the next chunk must start at (chunks are appended in order)."""

    @property
    def batch(self) -> int:
        return self.k.shape[1]

    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes

    def rows_for(self, steps: torch.Tensor) -> torch.Tensor:
        """Ring rows of the tokens of a chunk of whole steps, ``steps`` given per token ``(N,)``."""
        stream = torch.arange(steps.numel(), device=steps.device) % self.tokens_per_step
        return (steps % self.window) * self.tokens_per_step + stream

    def plan(self, steps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, slice, bool]:
        """For a chunk's tokens (``steps`` per token, whole steps from :attr:`next_step`): the mask of its
        queries over the keys, the ring rows its last ``window`` steps go to, which of its tokens those
        are, and whether the chunk is one step. One step (a decoding step) is written into the ring
        first and attends over the ring alone: the slot it overwrites held the step ``window`` back,
        which it may not see anyway, and no concatenated copy of the cache is made. A longer chunk
        attends over ``[cached rows, chunk]``. Computed once per chunk, used by every layer."""
        rows = self.rows_for(steps)
        if steps.numel() == self.tokens_per_step:
            after = self.slot_step.clone()
            after[rows] = steps
            return window_mask(steps, after, self.window), rows, slice(None), True
        mask = window_mask(steps, torch.cat([self.slot_step, steps]), self.window)
        keep = slice(max(0, steps.numel() - self.window * self.tokens_per_step), None)
        return mask, rows[keep], keep, False

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               plan: tuple[torch.Tensor, torch.Tensor, slice, bool], dropout: float) -> torch.Tensor:
        """Attention of a chunk's queries over the cached steps and the chunk itself, and the chunk's
        keys and values written into ``layer``'s ring (its last ``window`` steps: earlier ones would be
        overwritten within the chunk). ``q, k, v``: ``(B, H, N, hd)``, already rotated."""
        mask, rows, keep, one_step = plan
        if one_step:
            self.k[layer, :, :, rows] = k
            self.v[layer, :, :, rows] = v
            return F.scaled_dot_product_attention(q, self.k[layer], self.v[layer], attn_mask=mask, dropout_p=dropout)
        keys = torch.cat([self.k[layer], k], dim=2)  # (B, H, W*S + N, hd)
        values = torch.cat([self.v[layer], v], dim=2)
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, dropout_p=dropout)
        self.k[layer, :, :, rows] = k[:, :, keep]
        self.v[layer, :, :, rows] = v[:, :, keep]
        return out

    def commit(self, steps: torch.Tensor, plan: tuple[torch.Tensor, torch.Tensor, slice, bool]) -> None:
        """Record the chunk's steps as cached (after every layer has written its keys)."""
        _, rows, keep, _ = plan
        self.slot_step[rows] = steps[keep]
        self.next_step = int(steps[-1]) + 1

    def reorder(self, index: torch.Tensor) -> None:
        """Keep (or repeat) batch rows ``index``: e.g. drop finished sequences, or fork one into samples."""
        self.k, self.v = self.k[:, index], self.v[:, index]


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same state-dict keys) that is fast for the few rows of a decoding
    step on a CPU.

    A decoding step pushes one token per stream through every layer: 3 rows at batch 1. For so few rows
    the CPU GEMM behind ``x @ W^T`` reads the weight at well under the memory bandwidth. Without
    autograd (generation, RL rollouts) the weight is repacked once into oneDNN's blocked layout and
    multiplied there (:func:`_packed_weight`; the copy is redone when the weight changes and costs one
    more copy of the weights while it lives); with autograd ``W @ x^T``, which streams the weight in its
    stored layout. Training batches, large chunks and bf16 keep the usual form.
    ``bench/bench_generation.py`` measures each path.
    """

    SKINNY_ROWS = 16
    """Up to this many rows with autograd: ``W @ x^T``."""
    PACKED_ROWS = 64
    """Up to this many rows without autograd: the packed weight (a decoding step at batch 16 is 48)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // x.shape[-1]
        if rows > self.PACKED_ROWS or x.device.type != "cpu" or x.dtype != torch.float32 \
                or self.weight.dtype != torch.float32:
            return super().forward(x)
        flat = x.reshape(rows, x.shape[-1])
        grad = torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)
        if not grad:
            packed = _packed_weight(self.weight)
            if packed is not None:
                out = torch.ops.mkldnn._linear_pointwise(flat.contiguous(), packed, self.bias, "none", [], "")
                return out.reshape(*x.shape[:-1], self.out_features)
        if rows > self.SKINNY_ROWS:
            return super().forward(x)
        if self.bias is None:
            out = self.weight @ flat.t()
        else:
            out = torch.addmm(self.bias[:, None], self.weight, flat.t())
        return out.t().reshape(*x.shape[:-1], self.out_features)


_PACKED: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}
"""``id(weight) -> (weak reference to it, its version when packed, packed copy)``; an entry goes when its
weight does (keyed by id: tensors compare elementwise, so they cannot be dictionary keys by value)."""
_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _packed_weight(weight: torch.Tensor) -> torch.Tensor | None:
    """The weight in oneDNN's blocked layout for inference, kept while the weight lives and unchanged
    (its in-place version counter is checked, so an optimiser step repacks it); None where oneDNN is
    missing (the caller falls back to a plain product)."""
    if not _ONEDNN:
        return None
    key = id(weight)
    hit = _PACKED.get(key)
    if hit is not None and hit[0]() is weight and hit[1] == weight._version:
        return hit[2]
    packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach())
    if hit is None or hit[0]() is not weight:
        weakref.finalize(weight, _PACKED.pop, key, None)
    _PACKED[key] = (weakref.ref(weight), weight._version, packed)
    return packed


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary positions on ``x`` ``(..., N, hd)`` with ``cos, sin`` ``(N, hd)`` of the tokens' angles, in
    ``rotary_embedding_torch``'s interleaved-pair layout (pairs ``(2i, 2i+1)`` turn together; a test
    checks it against that library's ``apply_rotary_emb``). The cosines and sines are computed once per
    forward, not once per layer and per q and k."""
    pairs = x.unflatten(-1, (-1, 2))
    turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos + turned * sin


class Attention(nn.Module):
    """Multi-head self-attention with rotary positions; SDPA does the arithmetic."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.qkv = Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = Linear(config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor, layer: int,
                cache: KVCache | None, plan) -> torch.Tensor:
        B, N, D = x.shape  # (B, N, D)
        H = self.config.n_head
        q, k, v = self.qkv(x).view(B, N, 3, H, D // H).permute(2, 0, 3, 1, 4)  # each (B, H, N, hd)
        q, k = rotate(q, *rotary).to(x.dtype), rotate(k, *rotary).to(x.dtype)
        dropout = self.config.dropout if self.training else 0.0
        if cache is None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        else:
            out = cache.attend(layer, q, k.to(cache.k.dtype), v.to(cache.v.dtype), plan, dropout)
        return self.proj(out.transpose(1, 2).reshape(B, N, D))


class Block(nn.Module):
    """Pre-LN transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        hidden = int(round(config.mlp_ratio * config.n_embd))
        self.ln_attn = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = Attention(config)
        self.ln_mlp = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = nn.Sequential(Linear(config.n_embd, hidden, bias=config.bias), nn.GELU(),
                                 Linear(hidden, config.n_embd, bias=config.bias))
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor | None,
                layer: int, cache: KVCache | None, plan=None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_attn(x), rotary, mask, layer, cache, plan))
        return x + self.drop(self.mlp(self.ln_mlp(x)))


class Transformer(nn.Module):
    """A stack of :class:`Block`s over step-major token embeddings, with a final LayerNorm.

    ``forward(x, steps, cache)``: ``x`` ``(B, N, D)`` embeddings of whole steps, ``steps`` ``(N,)`` the
    step of every token; with a ``cache`` the chunk must continue where the cache stopped
    (``steps[0] == cache.next_step``), and its keys are appended. Returns ``(B, N, D)``.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_out = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.apply(_init_weights)
        for block in self.blocks:  # GPT-2: residual projections scaled by depth
            for linear in (block.attn.proj, block.mlp[2]):
                nn.init.normal_(linear.weight, std=0.02 / (2 * config.n_layer) ** 0.5)

    @property
    def receptive_field(self) -> int:
        """Steps the output of a step depends on, up to its own: every layer reaches ``window - 1``
        further back."""
        return self.config.n_layer * (self.config.window - 1) + 1

    @property
    def reach_ahead(self) -> int:
        """Steps after its own the output of a step depends on (0 for a causal stack)."""
        return self.config.n_layer * self.config.ahead

    def rotary_angles(self, steps: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``(N, head_dim)`` rotary angles of the tokens' steps, in pairs (``rotary_embedding_torch``'s
        layout). Computed in float64 from the config, never from a stored tensor, so casting the
        model to bf16 cannot coarsen the frequencies."""
        hd = self.config.head_dim
        inv_freq = self.config.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float64, device=steps.device) / hd)
        return (steps.to(torch.float64)[:, None] * inv_freq).repeat_interleave(2, dim=-1).to(dtype)

    def new_cache(self, batch: int, tokens_per_step: int) -> KVCache:
        if self.config.ahead:
            raise ValueError("a transformer that looks ahead has no KV cache: its keys change as later steps arrive")
        p = next(self.parameters())
        return KVCache(self.config, batch, tokens_per_step, device=p.device, dtype=p.dtype)

    def forward(self, x: torch.Tensor, steps: torch.Tensor, cache: KVCache | None = None,
                layers: slice = slice(None), final_norm: bool = True) -> torch.Tensor:
        """``layers`` runs only those blocks (the RL stage runs the frozen base once and the trained head
        and the critic on its output); ``final_norm`` applies the last LayerNorm. A cache serves whole
        stacks only."""
        if cache is not None and (layers != slice(None) or not final_norm):
            raise ValueError("a KV cache serves the whole stack (layers=slice(None), final_norm=True)")
        if cache is not None:
            if self.config.ahead:
                raise ValueError("a transformer that looks ahead has no KV cache: its keys change as later steps arrive")
            if x.shape[0] != cache.batch:
                raise ValueError(f"the cache holds {cache.batch} sequences, the chunk {x.shape[0]}")
            if x.shape[1] % cache.tokens_per_step or int(steps[0]) != cache.next_step:
                raise ValueError(f"a cached chunk must be whole steps from step {cache.next_step}, "
                                 f"got {x.shape[1]} tokens from step {int(steps[0])}")
        angles = self.rotary_angles(steps, torch.float64 if x.dtype == torch.float64 else torch.float32)
        rotary = (angles.cos(), angles.sin())  # (N, hd) each, shared by every layer
        plan = None if cache is None else cache.plan(steps)
        mask = window_mask(steps, steps, self.config.window, self.config.ahead) if cache is None else None
        for layer in range(len(self.blocks))[layers]:
            x = self.blocks[layer](x, rotary, mask, layer, cache, plan)
        if cache is not None:
            cache.commit(steps, plan)
        return self.ln_out(x) if final_norm else x


    def forward_chunked(self, x: torch.Tensor, tokens_per_step: int, chunk_steps: int) -> torch.Tensor:
        """``forward(x, steps 0..)`` over a long sequence ``(B, n * tokens_per_step, D)``, ``chunk_steps``
        steps at a time: each chunk runs with the stack's reach of context either side
        (:attr:`receptive_field` - 1 back, :attr:`reach_ahead` ahead) and keeps its own steps, so the
        output equals the whole sequence's while attention memory stays that of a chunk. For an
        encoder run once over a whole song."""
        S = tokens_per_step
        if x.shape[1] % S:
            raise ValueError(f"{x.shape[1]} tokens are not whole steps of {S}")
        n = x.shape[1] // S
        back, ahead = self.receptive_field - 1, self.reach_ahead
        out = []
        for start in range(0, n, chunk_steps):
            stop = min(n, start + chunk_steps)
            first, last = max(0, start - back), min(n, stop + ahead)
            steps = step_index(last - first, S, first, device=x.device)
            y = self(x[:, first * S:last * S], steps)
            out.append(y[:, (start - first) * S:(stop - first) * S])
        return torch.cat(out, dim=1)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)


def step_index(num_steps: int, tokens_per_step: int, start: int = 0, device: torch.device | str = "cpu"
               ) -> torch.Tensor:
    """``(num_steps * tokens_per_step,)`` the step of every token of a step-major chunk."""
    return torch.arange(start, start + num_steps, device=device).repeat_interleave(tokens_per_step)
