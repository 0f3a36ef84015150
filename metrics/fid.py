"""FID and Div on per-sequence feature vectors, as Bailando / Duolando / DanceCamera3D compute them.

* **Normalisation** (:func:`normalise`): both sets are z-scored with the *reference* set's per-dimension
  mean and population standard deviation (``std`` with ddof 0) plus 1e-10, as ``metrics_new.py`` does.
* **FID** (:func:`frechet_distance`): ``|mu_g - mu_r|² + Tr(S_g + S_r - 2 (S_g S_r)^½)`` with unbiased
  covariances (``np.cov``) and ``scipy.linalg.sqrtm``. When the square root is not finite, 1e-5·I is
  added to both covariances and it is recomputed (the reference fallback). The reference then keeps
  ``covmean`` complex when its imaginary diagonal is small, so it *returns a complex number*; the
  published figures are its real part, which is what this returns. With ~40 generated sequences in
  72 dimensions the generated covariance is rank-deficient; :class:`FrechetResult` records whether
  the fallback fired and how large the discarded imaginary part was, so a reader can tell.
* **Div** (:func:`mean_pairwise_distance`): the mean Euclidean distance over all unordered pairs of
  (normalised) feature vectors. Computed in blocks, so DanceCamera3D's per-frame shot features
  (~30 k vectors, 450 M pairs) fit in memory.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg

NORMALISE_EPS = 1e-10
SQRTM_EPS = 1e-5


def normalise(reference: np.ndarray, *others: np.ndarray, eps: float = NORMALISE_EPS
              ) -> tuple[np.ndarray, ...]:
    """z-score ``reference`` (N, D) and each of ``others`` (M, D) with the reference's statistics.

    Returns ``(reference_z, *others_z)``. The standard deviation is the population one (ddof 0)
    plus ``eps``, as in the reference ``normalize``.
    """
    ref = np.asarray(reference, dtype=np.float64)
    if ref.ndim != 2 or ref.shape[0] == 0:
        raise ValueError(f"reference features must be (N, D) with N > 0, got {ref.shape}")
    mean = ref.mean(axis=0)
    std = ref.std(axis=0) + eps
    out = [(ref - mean) / std]
    for o in others:
        o = np.asarray(o, dtype=np.float64)
        if o.ndim != 2 or o.shape[1] != ref.shape[1]:
            raise ValueError(f"features must be (M, {ref.shape[1]}), got {o.shape}")
        out.append((o - mean) / std)
    return tuple(out)


@dataclass(frozen=True)
class FrechetResult:
    """A Fréchet distance and how it was obtained."""

    value: float
    """The real part of the reference formula."""
    fallback: bool
    """Whether sqrtm was not finite and 1e-5·I was added to both covariances."""
    imag: float
    """Largest |imaginary part| of the matrix square root that was discarded."""
    singular: bool = False
    """Whether scipy warned that ``S_g S_r`` is singular (the square root may be inaccurate)."""


def frechet_distance(generated: np.ndarray, reference: np.ndarray, *, eps: float = SQRTM_EPS
                     ) -> FrechetResult:
    """Fréchet distance between Gaussians fitted to ``generated`` (N, D) and ``reference`` (M, D).

    Needs at least two vectors per set (one vector has no covariance).
    """
    g = np.asarray(generated, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if g.ndim != 2 or r.ndim != 2 or g.shape[1] != r.shape[1]:
        raise ValueError(f"feature sets must be (N, D) and (M, D), got {g.shape} and {r.shape}")
    if g.shape[0] < 2 or r.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 vectors per set, got {g.shape[0]} and {r.shape[0]}")
    mu_g, mu_r = g.mean(axis=0), r.mean(axis=0)
    s_g = np.atleast_2d(np.cov(g, rowvar=False))  # (D, D), unbiased as np.cov is
    s_r = np.atleast_2d(np.cov(r, rowvar=False))
    diff = mu_g - mu_r
    with warnings.catch_warnings(record=True) as caught:
        # scipy warns (LinAlgWarning) when the product is singular, as it is with fewer vectors than
        # dimensions; the warning becomes a flag on the result instead of noise on stderr
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s_g @ s_r)
        fallback = not np.isfinite(covmean).all()
        if fallback:
            offset = np.eye(s_g.shape[0]) * eps
            covmean = linalg.sqrtm((s_g + offset) @ (s_r + offset))
    singular = any(issubclass(w.category, linalg.LinAlgWarning) for w in caught)
    imag = float(np.abs(np.imag(covmean)).max()) if np.iscomplexobj(covmean) else 0.0
    value = diff @ diff + np.trace(s_g) + np.trace(s_r) - 2.0 * np.trace(np.real(covmean))
    return FrechetResult(value=float(np.real(value)), fallback=fallback, imag=imag, singular=singular)


def mean_pairwise_distance(features: np.ndarray, *, max_elements: int = 1 << 24) -> float:
    """Div: the mean Euclidean distance over all unordered pairs of rows of ``features`` (N, D).

    Rows are compared a block at a time (``block · N · D <= max_elements``), so memory stays bounded
    for any N; the differences are taken directly (no ``|a|² + |b|² - 2ab`` expansion, which loses
    precision for close vectors).
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (N, D), got {x.shape}")
    n, dim = x.shape
    if n < 2:
        raise ValueError(f"diversity needs at least 2 vectors, got {n}")
    block = max(1, max_elements // max(1, n * dim))
    total = 0.0
    for start in range(0, n, block):  # blocks of rows, each against every later row
        a = x[start:start + block]  # (B, D)
        b = x[start:]  # (N - start, D)
        d = np.sqrt(np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1))  # (B, N - start)
        # keep only pairs (i, j) with j > i: in block coordinates column c > row r
        upper = np.arange(b.shape[0])[None, :] > np.arange(a.shape[0])[:, None]
        total += float(d[upper].sum())
    return total / (n * (n - 1) / 2.0)


CONSTANT_STD = 1e-8


def constant_dimensions(reference: np.ndarray, tol: float = CONSTANT_STD) -> np.ndarray:
    """(D,) bool: dimensions whose reference standard deviation is below ``tol``.

    z-scoring divides them by ``std + 1e-10`` ≈ 1e-10, so any generated value off the constant
    becomes ~1e10 and dominates FID and Div (a reference-protocol pitfall on small reference sets).
    """
    return np.asarray(reference, dtype=np.float64).std(axis=0) < tol


def fid_and_div(generated: np.ndarray, reference: np.ndarray, *, normalise_with_reference: bool = True,
                drop_constant: bool = False) -> dict[str, float | bool | int]:
    """FID, Div of the generated set and Div of the reference set, after the reference z-scoring.

    ``drop_constant`` leaves out dimensions that are constant over the reference set (see
    :func:`constant_dimensions`); the reference protocols keep them. Returns ``{"fid", "div",
    "div_reference", "fid_fallback", "fid_imag", "fid_singular", "constant_dims"}``.
    """
    g = np.asarray(generated, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    const = constant_dimensions(r)
    if drop_constant and const.any():
        if const.all():
            raise ValueError("every feature dimension is constant over the reference set")
        g, r = g[:, ~const], r[:, ~const]
    if normalise_with_reference:
        r, g = normalise(r, g)
    fr = frechet_distance(g, r)
    return {"fid": fr.value, "div": mean_pairwise_distance(g), "div_reference": mean_pairwise_distance(r),
            "fid_fallback": fr.fallback, "fid_imag": fr.imag, "fid_singular": fr.singular,
            "constant_dims": int(const.sum())}
