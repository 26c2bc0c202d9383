"""The BG/NBD module against the model's own definition: parameters recovered from simulated
customers, and P(alive) and conditional expected purchases against the posterior integrated
numerically over λ and p (no closed form of the paper is restated here)."""

import math
import time

import numpy as np
import pytest
from scipy import integrate, special, stats

from analytics import bgnbd

# CDNOW's parameters (FHL 2005, weeks) in days, and a second set with a > 1 and busier buyers.
CDNOW = bgnbd.BgNbdFit(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426, loglik=0.0, n=0, converged=True)
BUSY = bgnbd.BgNbdFit(r=2.0, alpha=50.0, a=2.5, b=4.0, loglik=0.0, n=0, converged=True)


def simulate(rng, n, *, r, alpha, a, b, t_low=200, t_high=800):
    """Customers observed for T days after their first purchase: λ ~ Gamma(r, rate α), p ~ Beta(a, b),
    Poisson purchases at rate λ, dropping out with probability p after each repeat purchase."""
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    T = rng.integers(t_low, t_high + 1, n).astype(float)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        now = 0.0
        while True:
            now += rng.exponential(1 / rate[i])
            if now > T[i]:
                break
            x[i] += 1
            t_x[i] = now
            if rng.random() < dropout[i]:
                break
    return x, t_x, T


def test_fit_recovers_the_parameters_of_simulated_customers():
    truth = {"r": 0.5, "alpha": 20.0, "a": 1.5, "b": 5.0}
    # Relative tolerances: about four standard deviations of each estimate over 20 seeds of 8,000 customers.
    tolerance = {"r": 0.10, "alpha": 0.15, "a": 0.25, "b": 0.30}
    x, t_x, T = simulate(np.random.default_rng(20050101), 8000, **truth)
    started = time.perf_counter()
    fitted = bgnbd.fit(x, t_x, T)
    assert time.perf_counter() - started < 5
    assert fitted.converged, fitted.message
    assert fitted.n == 8000
    for name, value in truth.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=tolerance[name]), name
    # The maximum: the log-likelihood there beats the truth and nearby points.
    best = bgnbd.log_likelihood(fitted.r, fitted.alpha, fitted.a, fitted.b, x, t_x, T)
    assert fitted.loglik == pytest.approx(best, rel=1e-12)
    assert best >= bgnbd.log_likelihood(*truth.values(), x, t_x, T)
    for i in range(4):
        nudged = [fitted.r, fitted.alpha, fitted.a, fitted.b]
        nudged[i] *= 1.02
        assert best > bgnbd.log_likelihood(*nudged, x, t_x, T)


def test_identical_customers_are_fitted_once_with_their_weight():
    x, t_x, T = simulate(np.random.default_rng(7), 1500, r=0.5, alpha=20.0, a=1.5, b=5.0)
    x, t_x, T = np.round(x), np.ceil(t_x), T  # days, as the job gives them: many customers coincide
    (ux, ut, uT), weights = bgnbd.aggregate(x, t_x, T)
    assert len(ux) < len(x) and weights.sum() == len(x)
    params = (0.4, 15.0, 1.2, 3.0)
    assert bgnbd.log_likelihood(*params, ux, ut, uT, weights) == pytest.approx(
        bgnbd.log_likelihood(*params, x, t_x, T), rel=1e-12
    )


def test_a_capped_fit_reports_that_it_did_not_converge():
    x, t_x, T = simulate(np.random.default_rng(3), 500, r=0.5, alpha=20.0, a=1.5, b=5.0)
    fitted = bgnbd.fit(x, t_x, T, maxiter=1)
    assert not fitted.converged
    assert "did not converge" in fitted.message


def test_no_customers_gives_an_empty_unconverged_fit():
    fitted = bgnbd.fit([], [], [])
    assert fitted.n == 0 and not fitted.converged and math.isnan(fitted.r)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        bgnbd.fit([1], [50], [40])  # last purchase after the as-of date
    with pytest.raises(ValueError):
        bgnbd.fit([2], [0], [40])  # repeat purchases on day 0


# ---------------------------------------------------------------------------------------------
# Closed forms against the posterior, integrated numerically


def individual_expectation(rate, dropout, t):
    """Purchases in t days of a customer alive now: the k-th happens when the k-th Poisson arrival
    falls within t and the customer stayed after the k−1 before it."""
    k = np.arange(1, 2000)
    return float(np.sum((1 - dropout) ** (k - 1) * stats.poisson.sf(k - 1, rate * t)))


def test_the_individual_expectation_used_below_is_the_sum_over_purchases():
    for rate, dropout, t in [(0.02, 0.3, 365), (0.5, 0.05, 90), (0.001, 0.9, 30)]:
        assert (1 - math.exp(-rate * dropout * t)) / dropout == pytest.approx(
            individual_expectation(rate, dropout, t), rel=1e-9
        )


def posterior_integrals(params, x, t_x, T, t):
    """∫∫ over the prior of (λ, p): the likelihood, its alive part, and the alive part times the
    alive customer's expected purchases in the next t days; returns the likelihood, P(alive) and
    the conditional expectation.

    Trapezoid rule in v = log λ and w = logit p: there the integrands are smooth bumps with
    exponentially thin tails, where the rule converges geometrically (no endpoint singularities
    of λ^(r−1) or p^(a−1) left)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    shape = r + x
    tail = 40.0  # e^−40: far below the tolerances asserted
    lowest, highest = shape / (alpha + T), (shape + tail + 10 * math.sqrt(shape)) / (alpha + t_x)
    v = np.arange(math.log(lowest) - tail / shape - 3, math.log(highest) + 1, min(0.1, 0.3 / math.sqrt(shape)))
    w = np.arange(-tail / a - 3, tail / b + 3, 0.05)
    V, W = np.meshgrid(v, w, indexing="ij")
    rate, log_rate = np.exp(V), V
    log_p, log_q = special.log_expit(W), special.log_expit(-W)
    # Prior densities in (v, w), with the Jacobians dλ = λ dv and dp = p(1−p) dw.
    log_prior = stats.gamma.logpdf(rate, r, scale=1 / alpha) + V + stats.beta.logpdf(np.exp(log_p), a, b)
    log_prior += log_p + log_q
    log_alive = log_prior + x * log_q + x * log_rate - rate * T
    # No repeat purchase, no dropout: the second term of the likelihood is absent.
    no_dropout = np.full_like(V, -np.inf)
    log_dropped = log_prior + log_p + (x - 1) * log_q + x * log_rate - rate * t_x if x > 0 else no_dropout
    top = max(log_alive.max(), log_dropped.max())
    alive_density = np.exp(log_alive - top)
    # Purchases in t days of an alive customer: (1 − e^(−λpt)) / p.
    ahead_density = alive_density * -np.expm1(-rate * np.exp(log_p) * t) / np.exp(log_p)

    def integral(density):
        return integrate.trapezoid(integrate.trapezoid(density, v, axis=0), w)

    alive = integral(alive_density)
    likelihood = alive + integral(np.exp(log_dropped - top))
    return likelihood * math.exp(top), alive / likelihood, integral(ahead_density) / likelihood


CASES = [
    (CDNOW, 0, 0, 200),
    (CDNOW, 1, 30, 200),
    (CDNOW, 2, 150, 300),
    (CDNOW, 5, 50, 400),
    (CDNOW, 10, 380, 400),
    (BUSY, 0, 0, 30),
    (BUSY, 3, 100, 500),
    (BUSY, 25, 600, 700),
]


@pytest.mark.parametrize(("params", "x", "t_x", "T"), CASES)
def test_closed_forms_match_the_integrated_posterior(params, x, t_x, T):
    likelihood, alive, ahead = posterior_integrals(params, x, t_x, T, 365)
    p = params
    assert bgnbd.individual_log_likelihood(p.r, p.alpha, p.a, p.b, [x], [t_x], [T])[0] == pytest.approx(
        math.log(likelihood), rel=1e-7
    )
    assert bgnbd.p_alive(params, [x], [t_x], [T])[0] == pytest.approx(alive, rel=1e-7)
    assert bgnbd.expected_purchases(params, 365, [x], [t_x], [T])[0] == pytest.approx(ahead, rel=1e-6)


def test_closed_forms_are_vectorised():
    x = np.array([c[1] for c in CASES[:5]])
    t_x = np.array([c[2] for c in CASES[:5]])
    T = np.array([c[3] for c in CASES[:5]])
    together = bgnbd.expected_purchases(CDNOW, 365, x, t_x, T)
    one_by_one = [bgnbd.expected_purchases(CDNOW, 365, [a], [b], [c])[0] for a, b, c in zip(x, t_x, T, strict=True)]
    assert together == pytest.approx(one_by_one, rel=1e-12)
    assert bgnbd.p_alive(CDNOW, x, t_x, T).shape == (5,)


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_silence():
    assert bgnbd.p_alive(CDNOW, [0, 0], [0, 0], [10, 1000]) == pytest.approx([1.0, 1.0])
    recent, silent = bgnbd.p_alive(CDNOW, [4, 4], [390, 100], [400, 400])
    assert 0 < silent < recent < 1


def test_expected_purchases_where_the_hypergeometric_series_is_ill_conditioned():
    """A heavy buyer over a long horizon (z = t/(α+T+t) near 1, hundreds of purchases), and a = 1
    where the closed form is 0/0: finite, and against the integrated posterior."""
    heavy = bgnbd.BgNbdFit(r=3.0, alpha=5.0, a=0.6, b=30.0, loglik=0.0, n=0, converged=True)
    value = bgnbd.expected_purchases(heavy, 3650, [300], [395], [400])[0]
    assert np.isfinite(value)
    assert value == pytest.approx(posterior_integrals(heavy, 300, 395, 400, 3650)[2], rel=1e-6)

    flat = bgnbd.BgNbdFit(r=0.5, alpha=20.0, a=1.0, b=3.0, loglik=0.0, n=0, converged=True)
    value = bgnbd.expected_purchases(flat, 365, [4], [200], [300])[0]
    assert value == pytest.approx(posterior_integrals(flat, 4, 200, 300, 365)[2], rel=1e-6)


def test_expected_purchases_of_a_new_customer_match_simulation():
    rng = np.random.default_rng(11)
    params = BUSY
    n = 20000
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    # Purchases in 90 days: the expectation given (λ, p) averaged over the simulated customers.
    simulated = np.mean(-np.expm1(-rate * dropout * 90) / dropout)
    assert bgnbd.expected_purchases_new(params, 90) == pytest.approx(simulated, rel=0.03)
    assert bgnbd.expected_purchases(params, 0, [3], [10], [20])[0] == 0
