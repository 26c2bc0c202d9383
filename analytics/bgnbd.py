"""The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "Counting your customers the easy
way"): likelihood, maximum-likelihood fit, P(alive) and conditional expected purchases.

No database here (numpy and scipy only). Time unit: days. Per customer, as of a date:
- `x`: repeat purchase occasions (occasions − 1),
- `t_x`: days from the first to the last occasion (0 when x = 0),
- `T`: days from the first occasion to the as-of date.

The model: while alive, a customer buys at Poisson rate λ ~ Gamma(r, rate α); after each repeat
purchase they drop out for good with probability p ~ Beta(a, b). Per customer,

    L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
        + [x > 0] · B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x)),

evaluated in logs (gammaln, betaln, log-sum-exp) so that customers with hundreds of purchases
or decades of history neither overflow nor underflow.
"""

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

# Search box of the fit, on log-parameters: e^±15 spans every plausible rate and shape in days;
# a parameter on the edge means the data push it to infinity (e.g. nobody ever drops out).
LOG_BOUND = 15.0
DEFAULT_MAXITER = 500
# A stalled search counts as converged when no parameter moves the total log-likelihood by more than this.
LIKELIHOOD_TOLERANCE = 0.01


@dataclass(frozen=True)
class BgNbdFit:
    """The fitted parameters (time unit days), the log-likelihood at them and how the fit went."""

    r: float
    alpha: float
    a: float
    b: float
    loglik: float
    n: int
    converged: bool
    message: str = ""
    iterations: int = 0


def _arrays(x, t_x, T):
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T):
        raise ValueError("need x ≥ 0 and 0 ≤ t_x ≤ T")
    if np.any((x > 0) & (t_x <= 0)):
        raise ValueError("a customer with repeat purchases needs t_x > 0")
    return np.broadcast_arrays(x, t_x, T)


def _terms(r, alpha, a, b, x, t_x, T):
    """log of the common factor and of the two terms of the individual likelihood."""
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    alive = special.betaln(a, b + x) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    # b + x − 1 > 0 wherever x ≥ 1; elsewhere the term is absent.
    dropped[repeat] = special.betaln(a + 1, b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    return common, alive, dropped


def individual_log_likelihood(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """log L(r, α, a, b | x, t_x, T) of each customer."""
    x, t_x, T = _arrays(x, t_x, T)
    common, alive, dropped = _terms(r, alpha, a, b, x, t_x, T)
    return common + np.logaddexp(alive, dropped)


def log_likelihood(r, alpha, a, b, x, t_x, T, weights=None) -> float:
    """Sum of the customers' log-likelihoods (each counted `weights` times when given)."""
    ll = individual_log_likelihood(r, alpha, a, b, x, t_x, T)
    return float(np.sum(ll if weights is None else np.asarray(weights, dtype=float) * ll))


def _negative_mean_loglik(theta, x, t_x, T, w, total):
    """−(mean log-likelihood) and its gradient in the log-parameters."""
    r, alpha, a, b = np.exp(theta)
    common, alive, dropped = _terms(r, alpha, a, b, x, t_x, T)
    mixed = np.logaddexp(alive, dropped)
    ll = common + mixed
    # Shares of the two terms in the likelihood (log-sum-exp weights).
    s_alive = np.exp(alive - mixed)
    s_dropped = np.exp(dropped - mixed)
    repeat = x > 0
    psi = special.digamma
    psi_ab, psi_abx = psi(a + b), psi(a + b + x)
    log_alpha_t = np.zeros_like(x)
    log_alpha_t[repeat] = np.log(alpha + t_x[repeat])
    inv_alpha_t = np.zeros_like(x)
    inv_alpha_t[repeat] = 1.0 / (alpha + t_x[repeat])
    b_dropped = np.zeros_like(x)
    b_dropped[repeat] = psi(b + x[repeat] - 1)

    d_r = psi(r + x) - psi(r) + np.log(alpha) - s_alive * np.log(alpha + T) - s_dropped * log_alpha_t
    d_alpha = r / alpha - (r + x) * (s_alive / (alpha + T) + s_dropped * inv_alpha_t)
    # d/da and d/db of log B(a, b+x), log B(a+1, b+x−1) and −log B(a, b).
    d_a = psi_ab - psi_abx + s_dropped * (psi(a + 1) - psi(a))
    d_b = psi_ab - psi(b) - psi_abx + s_alive * psi(b + x) + s_dropped * b_dropped

    grad = np.array([np.dot(w, d) for d in (d_r, d_alpha, d_a, d_b)]) * np.array([r, alpha, a, b])
    value = -np.dot(w, ll) / total
    if not np.isfinite(value):
        return np.inf, np.zeros(4)
    return value, -grad / total


def aggregate(*columns):
    """The distinct rows of the given columns and how many customers share each (the fit's weights)."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    if not len(stacked):
        return [np.empty(0) for _ in columns], np.empty(0)
    rows, counts = np.unique(stacked, axis=0, return_counts=True)
    return [rows[:, i] for i in range(rows.shape[1])], counts.astype(float)


def fit(x, t_x, T, *, maxiter: int = DEFAULT_MAXITER, initial=None) -> BgNbdFit:
    """Maximum-likelihood r, α, a, b for customers (x, t_x, T); identical customers are fitted once, weighted.

    `initial` (r, α, a, b) overrides the starting point; `maxiter` caps the optimiser's iterations
    (a fit stopped by it reports converged=False)."""
    x, t_x, T = _arrays(x, t_x, T)
    n = int(x.size)
    if n == 0:
        return BgNbdFit(np.nan, np.nan, np.nan, np.nan, np.nan, 0, False, "no customers to fit")
    (ux, ut, uT), w = aggregate(x.ravel(), t_x.ravel(), T.ravel())
    total = float(w.sum())
    if initial is None:
        repeat_rate = float(np.dot(w, ux)) / max(float(np.dot(w, uT)), 1.0)
        # r = 1 with the population's mean rate; a = 1, b = 3: a mean dropout probability of 1/4.
        initial = (1.0, 1.0 / max(repeat_rate, 1e-6), 1.0, 3.0)
    theta0 = np.clip(np.log(np.asarray(initial, dtype=float)), -LOG_BOUND, LOG_BOUND)
    theta, value, converged, status, iterations = minimise(
        _negative_mean_loglik, theta0, (ux, ut, uT, w, total), total=total, maxiter=maxiter
    )
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    loglik = -value * total
    message = f"BG/NBD: {status}" if converged and status else ""
    if not converged:
        message = f"BG/NBD fit did not converge: {status}"
    edge = [name for name, v in zip(("r", "alpha", "a", "b"), theta, strict=True) if abs(v) >= LOG_BOUND - 1e-6]
    if converged and edge:
        message = "BG/NBD: " + ", ".join(edge) + " at the edge of the search range (the data push it to the limit)"

    return BgNbdFit(r, alpha, a, b, loglik, n, converged, message, iterations)


def minimise(objective, theta0, args, *, total: float, maxiter: int):
    """L-BFGS-B over log-parameters in the box ±LOG_BOUND; `objective` gives −(mean log-likelihood)
    and its gradient. Returns (θ, objective at θ, converged, status, iterations).

    Small samples often have their maximum at infinity along a ridge (every customer alike, nobody
    dropping out): there the line search stalls on a plateau and reports failure. Such a stop
    counts as converged when no parameter could still move the total log-likelihood by more than
    LIKELIHOOD_TOLERANCE per unit of its logarithm (components pushing out of the box ignored)."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(theta0)

    def run(start, iterations):
        options = {"maxiter": iterations, "ftol": 1e-12, "gtol": 1e-8}
        return optimize.minimize(
            objective, start, args=args, jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )

    result = run(theta0, maxiter)
    iterations = int(result.nit)
    if not result.success and iterations < maxiter:
        # A fresh start from the stall point drops the stale curvature estimate; it often gets further.
        again = run(result.x, maxiter - iterations)
        iterations += int(again.nit)
        if again.fun <= result.fun:
            result = again
    value, gradient = objective(result.x, *args)
    gradient = np.asarray(gradient) * total
    outward = ((result.x <= -LOG_BOUND + 1e-9) & (gradient > 0)) | ((result.x >= LOG_BOUND - 1e-9) & (gradient < 0))
    steepest = float(np.max(np.abs(np.where(outward, 0.0, gradient)))) if gradient.size else 0.0
    finite = bool(np.isfinite(value))
    flat = steepest <= LIKELIHOOD_TOLERANCE and iterations < maxiter
    converged = finite and (bool(result.success) or flat)
    if not finite:
        status = "the log-likelihood is not finite"
    elif result.success:
        status = ""
    elif flat:
        status = "stopped on a plateau of the likelihood (the data do not pin these parameters down)"
    elif iterations >= maxiter:
        status = f"stopped after {iterations} iterations ({result.message})"
    else:
        status = str(result.message)
    return result.x, float(value), converged, status, iterations


def _params(params):
    return float(params.r), float(params.alpha), float(params.a), float(params.b)


def p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive at T | x, t_x, T): 1 / (1 + [x > 0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))."""
    r, alpha, a, b = _params(params)
    x, t_x, T = _arrays(x, t_x, T)
    log_odds_dead = np.full_like(x, -np.inf)
    repeat = x > 0
    xr = x[repeat]
    log_odds_dead[repeat] = (
        np.log(a) - np.log(b + xr - 1) + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return special.expit(-log_odds_dead)


def _alive_part(r, alpha, a, b, t, x, T):
    """(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z)], z = t/(α+T+t).

    Computed in Euler's transformed form (1−z)^(r+x) 2F1(r+x, b+x; c; z) = (1−z)^(a−1) 2F1(c−r−x, a−1; c; z),
    whose series converges at z → 1 (c − (c−r−x) − (a−1) = r+x−a+1 > 0 in practice) where the
    original diverges; the original is the fallback where the transformed one is not finite."""
    c = a + b + x - 1
    z = t / (alpha + T + t)
    log1mz = np.log1p(-z)
    with np.errstate(all="ignore"):
        transformed = np.exp((a - 1) * log1mz) * special.hyp2f1(c - r - x, a - 1, c, z)
        original = np.exp((r + x) * log1mz + np.log(special.hyp2f1(r + x, b + x, c, z)))
    term = np.where(np.isfinite(transformed), transformed, original)
    return (a + b + x - 1) / (a - 1) * (1 - term)


def expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T]: P(alive) × the alive customer's expectation (FHL 2005, eq. 10)."""
    r, alpha, a, b = _params(params)
    x, t_x, T = _arrays(x, t_x, T)
    t = float(t)
    if t <= 0:
        return np.zeros_like(x)
    if abs(a - 1) < 1e-6:
        # The closed form is 0/0 at a = 1; it is smooth there, so average the two sides.
        delta = 1e-5
        alive = 0.5 * (_alive_part(r, alpha, 1 + delta, b, t, x, T) + _alive_part(r, alpha, 1 - delta, b, t, x, T))
    else:
        alive = _alive_part(r, alpha, a, b, t, x, T)
    return alive * p_alive(params, x, t_x, T)


def expected_purchases_new(params, t) -> float:
    """E[X(t)] for a customer who just made their first purchase (FHL 2005, eq. 7)."""
    x = np.zeros(1)
    return float(expected_purchases(params, t, x, x, x)[0]) if t > 0 else 0.0
