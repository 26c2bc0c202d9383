"""The Gamma-Gamma module against the model's own definition: parameters recovered from simulated
customers, and the likelihood and conditional expected spend against the posterior of the
customer's rate ν integrated numerically (no closed form of the note is restated here)."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from analytics import gammagamma

# CDNOW's spend parameters (Fader & Hardie's note).
CDNOW = gammagamma.GammaGammaFit(p=6.25, q=3.74, gamma=15.44, loglik=0.0, n=0, converged=True)


def simulate(rng, n, *, p, q, gamma):
    """x ≥ 1 repeat occasions each; amounts Gamma(p, rate ν), ν ~ Gamma(q, rate γ). The mean of x
    amounts Gamma(p, rate ν) is Gamma(px, rate xν)."""
    x = 1 + rng.poisson(1, n)
    rate = rng.gamma(q, 1 / gamma, n)
    return x, rng.gamma(p * x, 1 / (rate * x))


def test_fit_recovers_the_parameters_of_simulated_customers():
    truth = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    # Relative tolerances: about four standard deviations of each estimate over 20 seeds of 20,000
    # customers (p and γ are the least identified; their product over q − 1 is the best).
    tolerance = {"p": 0.15, "q": 0.06, "gamma": 0.18}
    x, m_x = simulate(np.random.default_rng(20050202), 20000, **truth)
    fitted = gammagamma.fit(x, m_x)
    assert fitted.converged, fitted.message
    assert fitted.n == 20000
    for name, value in truth.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=tolerance[name]), name
    assert gammagamma.population_mean_spend(fitted) == pytest.approx(6.25 * 15.44 / 2.74, rel=0.025)
    best = gammagamma.log_likelihood(fitted.p, fitted.q, fitted.gamma, x, m_x)
    assert fitted.loglik == pytest.approx(best, rel=1e-12)
    for i in range(3):
        nudged = [fitted.p, fitted.q, fitted.gamma]
        nudged[i] *= 1.02
        assert best > gammagamma.log_likelihood(*nudged, x, m_x)


def test_the_fit_does_not_depend_on_the_currency_unit():
    x, m_x = simulate(np.random.default_rng(5), 3000, p=6.25, q=3.74, gamma=15.44)
    in_units = gammagamma.fit(x, m_x)
    in_cents = gammagamma.fit(x, m_x * 100)
    assert in_cents.p == pytest.approx(in_units.p, rel=1e-5)
    assert in_cents.q == pytest.approx(in_units.q, rel=1e-5)
    assert in_cents.gamma == pytest.approx(in_units.gamma * 100, rel=1e-5)
    # Densities of amounts in cents are those in units divided by 100, per customer.
    assert in_cents.loglik == pytest.approx(in_units.loglik - 3000 * math.log(100), rel=1e-7)


def test_a_capped_fit_reports_that_it_did_not_converge():
    x, m_x = simulate(np.random.default_rng(3), 500, p=6.25, q=3.74, gamma=15.44)
    fitted = gammagamma.fit(x, m_x, maxiter=1)
    assert not fitted.converged
    assert "did not converge" in fitted.message


def test_no_customers_gives_an_empty_unconverged_fit():
    fitted = gammagamma.fit([], [])
    assert fitted.n == 0 and not fitted.converged


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        gammagamma.fit([0, 2], [10.0, 20.0])  # no repeat occasion
    with pytest.raises(ValueError):
        gammagamma.fit([1, 2], [0.0, 20.0])  # nothing spent


def test_population_mean_spend_needs_q_above_one():
    heavy_tailed = gammagamma.GammaGammaFit(p=2.0, q=0.9, gamma=10.0, loglik=0.0, n=0, converged=True)
    assert gammagamma.population_mean_spend(heavy_tailed) is None
    # Mean of Gamma(p, rate ν) is p/ν; E[1/ν] for ν ~ Gamma(q, rate γ), by integration.
    mean_inverse_rate = integrate.quad(lambda nu: stats.gamma.pdf(nu, 3.74, scale=1 / 15.44) / nu, 0, np.inf)[0]
    assert gammagamma.population_mean_spend(CDNOW) == pytest.approx(6.25 * mean_inverse_rate, rel=1e-8)


def posterior(params, x, m_x):
    """The likelihood of m_x (the amounts' density mixed over the prior of ν) and E[p/ν | x, m_x]."""
    prior = stats.gamma(params.q, scale=1 / params.gamma)

    def density(nu):
        return prior.pdf(nu) * stats.gamma.pdf(m_x, params.p * x, scale=1 / (x * nu))

    # The posterior of ν sits near (q + px)/(γ + x m_x): tell quad where to look.
    centre = (params.q + params.p * x) / (params.gamma + x * m_x)
    options = {"points": [centre / 4, centre, 4 * centre], "limit": 200, "epsabs": 0, "epsrel": 1e-11}
    upper = 50 * centre
    likelihood = integrate.quad(density, 0, upper, **options)[0]
    spend = integrate.quad(lambda nu: density(nu) * params.p / nu, 0, upper, **options)[0]
    return likelihood, spend / likelihood


@pytest.mark.parametrize(("x", "m_x"), [(1, 5.0), (1, 80.0), (2, 35.0), (6, 12.5), (20, 200.0)])
def test_likelihood_and_expected_spend_match_the_integrated_posterior(x, m_x):
    likelihood, spend = posterior(CDNOW, x, m_x)
    p = CDNOW
    assert gammagamma.individual_log_likelihood(p.p, p.q, p.gamma, [x], [m_x])[0] == pytest.approx(
        math.log(likelihood), rel=1e-8
    )
    assert gammagamma.conditional_expected_spend(CDNOW, [x], [m_x])[0] == pytest.approx(spend, rel=1e-8)


def test_expected_spend_moves_from_the_population_mean_towards_the_own_mean():
    population = gammagamma.population_mean_spend(CDNOW)
    spends = gammagamma.conditional_expected_spend(CDNOW, [1, 5, 50, 500], [100.0] * 4)
    assert population < spends[0] < spends[1] < spends[2] < spends[3] < 100
