"""FID, Div and the reference z-scoring on tiny hand-computed sets."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from metrics.fid import constant_dimensions, fid_and_div, frechet_distance, mean_pairwise_distance, normalise


def test_identical_sets_give_zero():
    x = np.random.default_rng(0).normal(size=(60, 5))
    r = frechet_distance(x, x)
    assert abs(r.value) < 1e-8 and not r.fallback and isinstance(r.value, float)


def test_one_dimensional_hand_value():
    # N(1, var 2) vs N(4, var 4) (unbiased variances): 3² + 2 + 4 - 2 sqrt(8)
    r = frechet_distance(np.array([[0.0], [2.0]]), np.array([[2.0], [4.0], [6.0]]))
    assert r.value == pytest.approx(15 - 2 * np.sqrt(8), rel=1e-12)


def test_pure_mean_shift():
    x = np.random.default_rng(1).normal(size=(40, 3))
    shift = np.array([1.0, -2.0, 0.5])
    assert frechet_distance(x + shift, x).value == pytest.approx(shift @ shift, rel=1e-8)


def test_reference_zscoring_uses_population_std():
    ref = np.array([[0.0, 5.0], [2.0, 5.0]])
    other = np.array([[3.0, 5.0]])
    r, o = normalise(ref, other)
    np.testing.assert_allclose(r[:, 0], [-1.0, 1.0], rtol=1e-9)
    np.testing.assert_allclose(o[0, 0], 2.0, rtol=1e-9)
    assert o[0, 1] == 0.0  # constant dimension: (5 - 5) / (0 + 1e-10)
    assert constant_dimensions(ref).tolist() == [False, True]


def test_diversity_hand_value_and_blocks():
    pts = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])  # distances 5, 10, 5
    assert mean_pairwise_distance(pts) == pytest.approx(20.0 / 3.0)
    x = np.random.default_rng(2).normal(size=(57, 4))
    assert mean_pairwise_distance(x, max_elements=50) == pytest.approx(pdist(x).mean(), rel=1e-12)


def test_fid_and_div_constant_dimension_pitfall():
    rng = np.random.default_rng(3)
    ref = np.hstack([rng.normal(size=(30, 2)), np.zeros((30, 1))])
    gen = ref + rng.normal(scale=0.01, size=ref.shape)  # off the constant by ~1 cm
    kept = fid_and_div(gen, ref)
    dropped = fid_and_div(gen, ref, drop_constant=True)
    assert kept["constant_dims"] == 1 and kept["fid"] > 1e12  # the 1e-10 division dominates
    assert dropped["fid"] < 0.1 and dropped["div_reference"] == pytest.approx(kept["div_reference"], rel=1e-6)


def test_needs_two_vectors():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError):
        mean_pairwise_distance(np.zeros((1, 3)))
