"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV: using
iso-value curves"; Fader & Hardie, "The Gamma-Gamma model of monetary value"): likelihood,
maximum-likelihood fit and the conditional expected average spend.

No database here (numpy and scipy only). Per customer with repeat purchases: `x` repeat
occasions and `m_x` the mean amount of those x occasions. The model: each occasion's amount is
Gamma(p, rate ν), ν ~ Gamma(q, rate γ) across customers, independent of the purchase process.
Then m_x has the density

    f(m_x | p, q, γ, x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q m_x^(px−1) x^(px) / (γ + x m_x)^(px+q),

and E[spend | p, q, γ, x, m_x] = (γ + x m_x) p / (px + q − 1): a weighted mean of the population
mean pγ/(q − 1) and the customer's own m_x, which weighs more the more they bought.
"""

from dataclasses import dataclass

import numpy as np
from scipy import special

from .bgnbd import LOG_BOUND, aggregate, minimise

DEFAULT_MAXITER = 500


@dataclass(frozen=True)
class GammaGammaFit:
    """The fitted p, q, γ (γ in the amounts' currency), the log-likelihood at them and how the fit went."""

    p: float
    q: float
    gamma: float
    loglik: float
    n: int
    converged: bool
    message: str = ""
    iterations: int = 0


def _arrays(x, m_x):
    x = np.asarray(x, dtype=float)
    m_x = np.asarray(m_x, dtype=float)
    if np.any(x < 1) or np.any(m_x <= 0):
        raise ValueError("need x ≥ 1 repeat occasions and a positive mean amount m_x")
    return np.broadcast_arrays(x, m_x)


def individual_log_likelihood(p, q, gamma, x, m_x) -> np.ndarray:
    """log f(m_x | p, q, γ, x) of each customer."""
    x, m_x = _arrays(x, m_x)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m_x)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m_x)
    )


def log_likelihood(p, q, gamma, x, m_x, weights=None) -> float:
    """Sum of the customers' log-likelihoods (each counted `weights` times when given)."""
    ll = individual_log_likelihood(p, q, gamma, x, m_x)
    return float(np.sum(ll if weights is None else np.asarray(weights, dtype=float) * ll))


def _negative_mean_loglik(theta, x, m_x, w, total):
    p, q, gamma = np.exp(theta)
    px = p * x
    log_m, log_x, log_gxm = np.log(m_x), np.log(x), np.log(gamma + x * m_x)
    psi = special.digamma
    psi_pxq = psi(px + q)
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * log_m
        + px * log_x
        - (px + q) * log_gxm
    )
    value = -np.dot(w, ll) / total
    if not np.isfinite(value):
        return np.inf, np.zeros(3)
    d_p = x * (psi_pxq - psi(px) + log_m + log_x - log_gxm)
    d_q = psi_pxq - psi(q) + np.log(gamma) - log_gxm
    d_gamma = q / gamma - (px + q) / (gamma + x * m_x)
    grad = np.array([np.dot(w, d) for d in (d_p, d_q, d_gamma)]) * np.array([p, q, gamma])
    return value, -grad / total


def fit(x, m_x, *, maxiter: int = DEFAULT_MAXITER, initial=None) -> GammaGammaFit:
    """Maximum-likelihood p, q, γ for customers with x ≥ 1 repeat occasions of mean amount m_x > 0.

    Amounts are divided by their median before the search (γ scales with the currency; the
    likelihood's shape does not), and γ and the log-likelihood are given back in the amounts' units."""
    x, m_x = _arrays(x, m_x)
    n = int(x.size)
    if n == 0:
        return GammaGammaFit(np.nan, np.nan, np.nan, np.nan, 0, False, "no customers with repeat purchases to fit")
    scale = float(np.median(m_x))
    (ux, um), w = aggregate(x.ravel(), m_x.ravel() / scale)
    total = float(w.sum())
    if initial is None:
        # p = 1, q = 2: the population mean spend pγ/(q−1) = γ starts at the customers' mean.
        initial = (1.0, 2.0, float(np.dot(w, um)) / total)
    else:
        initial = (initial[0], initial[1], initial[2] / scale)
    theta0 = np.clip(np.log(np.asarray(initial, dtype=float)), -LOG_BOUND, LOG_BOUND)
    theta, value, converged, status, iterations = minimise(
        _negative_mean_loglik, theta0, (ux, um, w, total), total=total, maxiter=maxiter
    )
    p, q, gamma = (float(v) for v in np.exp(theta))
    # The density of m_x in the original units is that of m_x/scale divided by the scale.
    loglik = -value * total - n * np.log(scale)
    message = f"Gamma-Gamma: {status}" if converged and status else ""
    if not converged:
        message = f"Gamma-Gamma fit did not converge: {status}"
    edge = [name for name, v in zip(("p", "q", "gamma"), theta, strict=True) if abs(v) >= LOG_BOUND - 1e-6]
    if converged and edge:
        message = "Gamma-Gamma: " + ", ".join(edge) + " at the edge of the search range (the data push it to the limit)"
    return GammaGammaFit(p, q, gamma * scale, float(loglik), n, converged, message, iterations)


def population_mean_spend(params) -> float | None:
    """E[spend per occasion] of a customer of whom nothing is known: pγ/(q − 1); None when q ≤ 1 (no finite mean)."""
    p, q, gamma = float(params.p), float(params.q), float(params.gamma)
    return p * gamma / (q - 1) if q > 1 else None


def conditional_expected_spend(params, x, m_x) -> np.ndarray:
    """E[spend per occasion | x, m_x] = (γ + x m_x) p / (px + q − 1), for x ≥ 1 and m_x > 0."""
    p, q, gamma = float(params.p), float(params.q), float(params.gamma)
    x, m_x = _arrays(x, m_x)
    return (gamma + x * m_x) * p / (p * x + q - 1)
