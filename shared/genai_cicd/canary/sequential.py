"""Anytime-valid evidence for the canary: rate ratios of bad events and paired per-interval ratios.

Everything here may be looked at after every interval without inflating its
error rates (docs/STATISTICS.md states the guarantees and their assumptions).

Rate ratio of bad events (errors, slow requests, ...). Condition on the total
number of bad events t = x_canary + x_baseline of a step: if the canary's rate
is theta times the baseline's, x_canary is Binomial(t, p(theta)) with
p(theta) = theta w / (theta w + 1) and w = canary requests / baseline
requests. The likelihood ratio of theta_1 against theta_0, mixed over a grid
of theta_1, is a test martingale for "ratio = theta_0" and, the family having
a monotone likelihood ratio, a supermartingale for the one-sided composite
null -- so by Ville's inequality it ever reaches 1/a with probability <= a.

Requests are not independent in production: an incident fails several in a
row, each arm's rate wobbles, a user's session stays on one arm. Counts are
then overdispersed by a factor D (variance = D x mean; for incidents of B
requests each, D = E[B^2]/E[B]). The likelihood ratio is tempered to the
power 1/D, which is exact when every incident has the same size D and is the
quasi-likelihood correction otherwise; for D >= 1 it stays valid on
independent requests (Jensen), so over-estimating D costs time, never
validity. D is estimated from the data of both arms (``Dispersion``).

Paired ratios (cost or tokens per request): per interval with data for both
arms, the per-request means c_t (canary) and b_t (baseline). For a ratio theta,
z_t = c_t - theta b_t has mean zero whenever the canary's mean is theta times
the baseline's, whatever the drift shared by both arms -- and, unlike a log of
the ratio of means, without bias when per-request values are heavy-tailed (the
mean of ~60 lognormal requests with sigma 2 has its median a third below its
mean; issue #27). The confidence sequence on mean(z) is the asymptotic
confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas
("Time-uniform central limit theory and asymptotic confidence sequences",
Annals of Statistics 2024), Robbins' normal mixture with the variance estimated
from the z's themselves; its guarantee is asymptotic and needs finite variance
of a request's value. The ratio's bounds invert it in theta; the estimate is
the ratio of the sums, sum c_t / sum b_t.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Alternatives mixed with equal weight, as multiples of the null ratio.
HARM_MULTIPLES: tuple[float, ...] = (1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
# The catastrophe check's alternatives: the canary many times worse than the null ratio.
CATASTROPHE_MULTIPLES: tuple[float, ...] = (5.0, 10.0, 30.0, 100.0)
SAFE_MULTIPLES: tuple[float, ...] = (0.8, 0.65, 0.5, 0.35, 0.2)
# Dispersion estimates are shrunk toward PRIOR_DISPERSION as if it had been seen over this many
# interval pairs, and blocks of BLOCKS intervals catch sessions that span several intervals.
PRIOR_DISPERSION = 1.0
PRIOR_WEIGHT = 2.0
CANARY_PRIOR_WEIGHT = 10.0
BLOCKS: tuple[int, ...] = (5, 20)
MIN_PAIRED_INTERVALS = 5
# The asymptotic confidence sequence is tightest near this many intervals.
CS_TUNED_FOR = 30


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ rate ratios


class StepCounts(Frozen):
    """Bad events and requests of both arms over the intervals of one step."""

    canary_bad: float = 0.0
    canary_requests: float = 0.0
    baseline_bad: float = 0.0
    baseline_requests: float = 0.0

    def add(self, x_c: float, n_c: float, x_b: float, n_b: float) -> StepCounts:
        return StepCounts(canary_bad=self.canary_bad + x_c, canary_requests=self.canary_requests + n_c,
                          baseline_bad=self.baseline_bad + x_b, baseline_requests=self.baseline_requests + n_b)


def interval_harm_score(x_c: float, n_c: float, x_b: float, n_b: float, theta0: float) -> float:
    """How much one interval pushes toward harm: its log likelihood ratio of 2 theta0 against theta0."""
    if n_c <= 0 or n_b <= 0:
        return 0.0
    w = n_c / n_b
    p0, p1 = theta0 * w / (theta0 * w + 1.0), 2 * theta0 * w / (2 * theta0 * w + 1.0)
    return x_c * math.log(p1 / p0) + x_b * math.log((1 - p1) / (1 - p0))


def log_likelihood(steps: Sequence[StepCounts], theta: float) -> float:
    """Conditional binomial log likelihood of the ratio theta (up to a constant), summed over steps."""
    total = 0.0
    for s in steps:
        if s.canary_requests <= 0 or s.baseline_requests <= 0:
            continue
        w = s.canary_requests / s.baseline_requests
        p = theta * w / (theta * w + 1.0)
        total += s.canary_bad * math.log(p) + s.baseline_bad * math.log1p(-p)
    return total


def _log_mean_exp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def log_e_harm(steps: Sequence[StepCounts], theta0: float, dispersion: float,
               multiples: Sequence[float] = HARM_MULTIPLES) -> float:
    """Log e-value against "canary/baseline ratio <= theta0" (evidence that the canary is worse), mixing the
    alternatives ``multiples`` x theta0 with equal weight (any fixed mixture is an e-value)."""
    base = log_likelihood(steps, theta0)
    return _log_mean_exp([(log_likelihood(steps, theta0 * m) - base) / dispersion for m in multiples])


def log_e_safe(steps: Sequence[StepCounts], theta0: float, dispersion: float) -> float:
    """Log e-value against "canary/baseline ratio >= theta0" (evidence that the canary is within theta0)."""
    base = log_likelihood(steps, theta0)
    return _log_mean_exp([(log_likelihood(steps, theta0 * m) - base) / dispersion for m in SAFE_MULTIPLES])


def log_e_rate_below(bad: float, requests: float, rate0: float, dispersion: float) -> float:
    """Log e-value against "the canary's own bad-event rate >= rate0" (binomial, one arm).

    The ratio says nothing while neither arm has bad events; this absolute test lets a metric
    whose rate is shown negligible count as safe.
    """
    if requests <= 0:
        return 0.0
    good = max(requests - bad, 0.0)
    terms = []
    for m in SAFE_MULTIPLES:
        r1 = rate0 * m
        terms.append((bad * math.log(r1 / rate0) + good * (math.log1p(-r1) - math.log1p(-rate0))) / dispersion)
    return _log_mean_exp(terms)


def ratio_estimate(steps: Sequence[StepCounts]) -> float:
    c = sum(s.canary_bad for s in steps)
    b = sum(s.baseline_bad for s in steps)
    nc = sum(s.canary_requests for s in steps)
    nb = sum(s.baseline_requests for s in steps)
    if nc <= 0 or nb <= 0:
        return math.nan
    if b <= 0:
        return math.inf if c > 0 else math.nan
    return (c / nc) / (b / nb)


def _invert(log_e: Callable[[float], float], level: float, lo: float = 1 / 256, hi: float = 256.0,
            increasing: bool = True) -> float:
    """The ratio theta0 at which log-e(theta0) crosses log(level), by bisection on log(theta0).

    ``increasing``: the e-value grows with theta0 (safety side; the upper bound is the smallest
    theta0 rejected); otherwise it shrinks with theta0 (harm side; the lower bound is the largest
    theta0 rejected). Returns the edge of the search range when nothing inside crosses.
    """
    target = math.log(level)
    a, b = math.log(lo), math.log(hi)
    fa, fb = log_e(math.exp(a)) >= target, log_e(math.exp(b)) >= target
    if increasing:
        if not fb:
            return math.inf
        if fa:
            return lo
    else:
        if not fa:
            return 0.0
        if fb:
            return hi
    for _ in range(40):
        mid = (a + b) / 2
        rejected = log_e(math.exp(mid)) >= target
        if rejected == increasing:
            b = mid
        else:
            a = mid
    return math.exp(b if increasing else a)


def ratio_upper(steps: Sequence[StepCounts], level: float, dispersion: float) -> float:
    """Anytime-valid upper confidence bound of the ratio: every ratio above it has an e-value of at least level."""
    return _invert(lambda t: log_e_safe(steps, t, dispersion), level, increasing=True)


def ratio_lower(steps: Sequence[StepCounts], level: float, dispersion: float) -> float:
    """Anytime-valid lower confidence bound of the ratio."""
    return _invert(lambda t: log_e_harm(steps, t, dispersion), level, increasing=False)


class ArmDispersion(Frozen):
    """Variance-to-mean ratio of one arm's bad-event counts, from differences of successive rates.

    Successive differences cancel drift shared over time; the same sums over blocks of
    ``BLOCKS`` intervals catch clusters (sessions) that span several intervals.
    """

    prev_bad: float | None = None
    prev_requests: float | None = None
    sq: float = 0.0  # sum of squared differences of rates
    inv: float = 0.0  # sum of (1/n_t + 1/n_{t-1}): the Poisson variance of a difference, per unit rate
    pairs: int = 0
    bad: float = 0.0
    requests: float = 0.0

    def add(self, bad: float, requests: float) -> ArmDispersion:
        if requests <= 0:
            return self
        upd: dict[str, float | int | None] = {"prev_bad": bad, "prev_requests": requests,
                                               "bad": self.bad + bad, "requests": self.requests + requests}
        if self.prev_bad is not None and self.prev_requests:
            d = bad / requests - self.prev_bad / self.prev_requests
            upd |= {"sq": self.sq + d * d, "inv": self.inv + 1 / requests + 1 / self.prev_requests,
                    "pairs": self.pairs + 1}
        return self.model_copy(update=upd)

    def index(self, prior: float, weight: float) -> float:
        """The variance-to-mean ratio, shrunk toward ``prior`` as if it had been seen over ``weight`` pairs."""
        if self.pairs == 0 or self.bad <= 0 or self.requests <= 0:
            return prior
        raw = self.sq / (self.inv * self.bad / self.requests)
        return (weight * prior + self.pairs * raw) / (weight + self.pairs)


class Dispersion(Frozen):
    """How much more the counts vary than independent requests would make them.

    The baseline arm is large, so its index is known early; it is the prior of the
    canary's own index, which takes over as the canary's data grows (an arm's rate
    that wobbles inflates a large count more than a small one, so the baseline's index
    would overstate the canary's). The factor the judge uses weighs each arm's index
    by its share of the variance of the log ratio, 1/bad events.
    """

    canary: ArmDispersion = ArmDispersion()
    baseline: ArmDispersion = ArmDispersion()
    # One per size in BLOCKS: the same sums over blocks of that many intervals, and the
    # block being filled ([x_c, n_c, x_b, n_b, intervals]).
    canary_blocks: list[ArmDispersion] = Field(default_factory=lambda: [ArmDispersion() for _ in BLOCKS])
    baseline_blocks: list[ArmDispersion] = Field(default_factory=lambda: [ArmDispersion() for _ in BLOCKS])
    filling: list[list[float]] = Field(default_factory=lambda: [[0.0] * 5 for _ in BLOCKS])

    def add(self, x_c: float, n_c: float, x_b: float, n_b: float) -> Dispersion:
        canary_blocks, baseline_blocks, filling = list(self.canary_blocks), list(self.baseline_blocks), []
        for i, size in enumerate(BLOCKS):
            acc = self.filling[i]
            block = [acc[0] + x_c, acc[1] + n_c, acc[2] + x_b, acc[3] + n_b, acc[4] + 1]
            if block[4] >= size:
                canary_blocks[i] = canary_blocks[i].add(block[0], block[1])
                baseline_blocks[i] = baseline_blocks[i].add(block[2], block[3])
                block = [0.0] * 5
            filling.append(block)
        return Dispersion(canary=self.canary.add(x_c, n_c), baseline=self.baseline.add(x_b, n_b),
                          canary_blocks=canary_blocks, baseline_blocks=baseline_blocks, filling=filling)

    def arms(self) -> tuple[float, float]:
        """(canary index, baseline index), each at least 1: the largest over the time scales."""
        base = max(1.0, self.baseline.index(PRIOR_DISPERSION, PRIOR_WEIGHT),
                   *(b.index(PRIOR_DISPERSION, PRIOR_WEIGHT) for b in self.baseline_blocks))
        canary = max(1.0, self.canary.index(base, CANARY_PRIOR_WEIGHT),
                     *(b.index(base, CANARY_PRIOR_WEIGHT / size) for b, size in zip(self.canary_blocks, BLOCKS,
                                                                                     strict=True)))
        return canary, base

    def factor(self) -> float:
        canary, base = self.arms()
        wc = 1.0 / (self.canary.bad + 1.0)
        wb = 1.0 / (self.baseline.bad + 1.0)
        return (canary * wc + base * wb) / (wc + wb)


# ------------------------------------------------------------------ session groups (cluster-robust)

# The canary's own group index is shrunk toward the baseline's as if the baseline's had been seen over
# this many bad events of the canary (the baseline's many sessions estimate the same traffic's index).
GROUP_PRIOR_BAD = 20.0


class GroupSums(Frozen):
    """One arm's bad events and requests per session group, summed over the canary so far.

    The app puts every session (its sticky key) in one of G groups by a hash, so a session's requests
    never straddle two groups and the groups' sums are independent whatever a session does: however
    long it lasts, however often it fails, however active its user. The "random groups" estimate of
    the variance of the arm's total is then G/(G-1) sum_g (x_g - r n_g)^2 (r = X/N), and its ratio to
    the binomial variance X (1 - r) is the dispersion of the total count, sessions included (the
    successive-interval estimate misses a session's failures that persist over several intervals).
    """

    bad: list[float] = Field(default_factory=list)
    requests: list[float] = Field(default_factory=list)

    def add(self, bad: Sequence[float], requests: Sequence[float]) -> GroupSums:
        if not self.bad:
            return GroupSums(bad=[float(b) for b in bad], requests=[float(n) for n in requests])
        if len(bad) != len(self.bad) or len(requests) != len(self.requests):
            return self  # a plan's group count never changes within a canary; a stray interval is ignored
        return GroupSums(bad=[a + float(b) for a, b in zip(self.bad, bad, strict=True)],
                         requests=[a + float(n) for a, n in zip(self.requests, requests, strict=True)])

    def index(self) -> float | None:
        """The dispersion of the total (at least 1), or None with no bad events or fewer than two groups."""
        x, n = sum(self.bad), sum(self.requests)
        filled = sum(1 for v in self.requests if v > 0)
        if x <= 0 or n <= 0 or filled < 2 or x >= n:
            return None
        r = x / n
        g = len(self.bad)
        variance = g / (g - 1) * sum((b - r * m) ** 2 for b, m in zip(self.bad, self.requests, strict=True))
        return max(1.0, variance / (x * (1 - r)))


class GroupEvidence(Frozen):
    canary: GroupSums = GroupSums()
    baseline: GroupSums = GroupSums()

    def add(self, canary_bad: Sequence[float], canary_requests: Sequence[float], baseline_bad: Sequence[float],
            baseline_requests: Sequence[float]) -> GroupEvidence:
        return GroupEvidence(canary=self.canary.add(canary_bad, canary_requests),
                             baseline=self.baseline.add(baseline_bad, baseline_requests))

    def factor(self) -> float:
        """The dispersion the judge tempers by, from the groups: the baseline's index (many sessions, so
        known early), the canary's own taking over as its bad events grow; 1 without data."""
        base = self.baseline.index()
        canary = self.canary.index()
        if base is None and canary is None:
            return 1.0
        if canary is None:
            return base or 1.0
        if base is None:
            return canary
        weight = sum(self.canary.bad) / (sum(self.canary.bad) + GROUP_PRIOR_BAD)
        return max(base, weight * canary + (1 - weight) * base)


# ------------------------------------------------------------------ paired per-interval ratios


class PairedMeans(Frozen):
    """Running sums of both arms' per-request means, one pair per interval (no list: it travels in Step
    Functions state): c = canary, b = baseline."""

    n: int = 0
    c: float = 0.0
    b: float = 0.0
    cc: float = 0.0
    bb: float = 0.0
    cb: float = 0.0
    # A floor for the variance of z from the baseline's many requests (it sees the tail that ~60 canary
    # requests an interval rarely show): the per-request variance from successive baseline means (drift
    # cancels), and the sums of 1/requests of each arm.
    inv_c: float = 0.0
    inv_b: float = 0.0
    prev_b: float | None = None
    prev_inv_b: float | None = None
    request_var: float = 0.0  # sum over successive pairs of (b_t - b_t-1)^2 / (1/n_t + 1/n_t-1)
    pairs: int = 0

    def add(self, c: float, b: float, n_c: float | None = None, n_b: float | None = None) -> PairedMeans:
        update: dict[str, float | int | None] = {}
        if n_c and n_b:
            update = {"inv_c": self.inv_c + 1 / n_c, "inv_b": self.inv_b + 1 / n_b, "prev_b": b,
                      "prev_inv_b": 1 / n_b}
            if self.prev_b is not None and self.prev_inv_b is not None:
                update |= {"request_var": self.request_var + (b - self.prev_b) ** 2 / (1 / n_b + self.prev_inv_b),
                           "pairs": self.pairs + 1}
        return self.model_copy(update={"n": self.n + 1, "c": self.c + c, "b": self.b + b, "cc": self.cc + c * c,
                                       "bb": self.bb + b * b, "cb": self.cb + c * b, **update})

    def z_floor(self, theta: float) -> float:
        """The variance of z_t implied by the baseline's per-request variance, if the canary's values are
        theta times the baseline's (the null of the test at theta): theta^2 s^2 mean(1/n_c) + theta^2 ..."""
        if self.pairs < 2 or self.n == 0:
            return 0.0
        per_request = self.request_var / self.pairs
        return theta * theta * per_request * (self.inv_c + self.inv_b) / self.n

    def ratio(self) -> float:
        """The ratio of the sums (the canary's mean per request over the baseline's)."""
        return self.c / self.b if self.n and self.b > 0 else math.nan

    def z(self, theta: float) -> tuple[float, float]:
        """Mean and standard deviation of z_t = c_t - theta b_t."""
        mean = (self.c - theta * self.b) / self.n
        squares = self.cc - 2 * theta * self.cb + theta * theta * self.bb
        var = (squares - self.n * mean * mean) / (self.n - 1) if self.n > 1 else math.nan
        return mean, math.sqrt(max(var, self.z_floor(theta), 0.0))


def _half_width(t: int, sd: float, alpha: float) -> float:
    """Robbins' normal-mixture half width after t observations, tuned for CS_TUNED_FOR (two-sided, alpha)."""
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / CS_TUNED_FOR
    return sd * math.sqrt(2 * (t * rho2 + 1) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1) / alpha))


def z_bounds(paired: PairedMeans, theta: float, alpha: float) -> tuple[float, float]:
    """Two-sided (1 - alpha) asymptotic confidence sequence for mean(c_t - theta b_t); (-inf, inf) before
    MIN_PAIRED_INTERVALS intervals, when a variance estimate means little."""
    if paired.n < MIN_PAIRED_INTERVALS:
        return -math.inf, math.inf
    mean, sd = paired.z(theta)
    half = _half_width(paired.n, sd, alpha)
    return mean - half, mean + half


def shown_above(paired: PairedMeans, theta: float, alpha: float) -> bool:
    """The canary's mean per request is shown above theta times the baseline's."""
    return z_bounds(paired, theta, alpha)[0] > 0


def shown_below(paired: PairedMeans, theta: float, alpha: float) -> bool:
    return z_bounds(paired, theta, alpha)[1] < 0


def ratio_bounds(paired: PairedMeans, alpha: float) -> tuple[float, float]:
    """The ratios not rejected: (the largest theta shown below the ratio, the smallest shown above it),
    0 and inf when none (bisection on log theta within [1/256, 256])."""
    if paired.n < MIN_PAIRED_INTERVALS:
        return 0.0, math.inf
    lower = _invert(lambda t: 1.0 if shown_above(paired, t, alpha) else -1.0, math.e, increasing=False)
    upper = _invert(lambda t: 1.0 if shown_below(paired, t, alpha) else -1.0, math.e, increasing=True)
    return lower, upper


# ------------------------------------------------------------------ means of bounded scores (online quality)

# Bets of the sums-only e-process, mixed with equal weight (each is a lambda of exp(lambda S - n psi)).
MEAN_BETS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
# Bets of the empirical-Bernstein e-process (each lambda in [0, 1)).
EB_BETS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9)


class ScoreSums(Frozen):
    """One arm's scores in [0, 1], as running sums (no list: it travels in Step Functions state).

    ``v`` is the sum of (x - c)^2 with c the running mean of the *earlier* intervals (shrunk
    toward 0.5): a predictable centre, which is what the empirical-Bernstein bound needs. It
    is known only while every interval brought its sum of squares (``eb``).
    """

    n: float = 0.0
    total: float = 0.0
    v: float = 0.0
    eb: bool = True

    def add(self, n: float, total: float, squares: float | None = None) -> ScoreSums:
        centre = (self.total + 0.5) / (self.n + 1.0)
        eb = self.eb and (squares is not None or n == 0)
        v = self.v + ((squares or 0.0) - 2 * centre * total + n * centre * centre if eb else 0.0)
        return ScoreSums(n=self.n + n, total=self.total + total, v=max(v, 0.0) if eb else 0.0, eb=eb)

    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan


def log_e_mean(sums: ScoreSums, m: float, side: Literal["above", "below"]) -> float:
    """Log e-value against "mean <= m" (side "above") or "mean >= m" (side "below").

    An equal-weight mixture of two families of test supermartingales, each valid on its own:

    - from (n, sum) only: for a score x in [0, 1] with mean mu, E[exp(lam x)] <= 1 - mu + mu e^lam
      (by convexity), so exp(lam S - n log(1 - m + m e^lam)) is a supermartingale when every
      score's conditional mean is at most m (lam > 0) or at least m (lam < 0). The Bernoulli is
      the worst case: the Chernoff bound of binary scores, valid for any scores in the range.
    - empirical Bernstein (Howard, Ramdas, McAuliffe & Sekhon, Ann. Statist. 2021, Thm. 4;
      Waudby-Smith & Ramdas, JRSS-B 2024): exp(lam (S - n m) - psi(lam) V), psi(lam) =
      -log(1 - lam) - lam, V the squares about a predictable centre (``ScoreSums.v``); tight when
      the scores vary little (a judge's graded scores), used when every interval sent squares.
    """
    if sums.n <= 0 or not 0.0 < m < 1.0:
        return 0.0
    sign = 1.0 if side == "above" else -1.0
    terms = [sign * lam * sums.total - sums.n * math.log1p(m * math.expm1(sign * lam)) for lam in MEAN_BETS]
    if sums.eb:
        gap = sign * (sums.total - sums.n * m)
        terms += [lam * gap - (-math.log1p(-lam) - lam) * sums.v for lam in EB_BETS]
    return _log_mean_exp(terms)


def mean_bounds(sums: ScoreSums, alpha: float) -> tuple[float, float]:
    """One-sided (1 - alpha) anytime-valid lower and upper bounds of an arm's mean score ([0, 1] with no data)."""
    if sums.n <= 0:
        return 0.0, 1.0
    target = math.log(1 / alpha)
    mean = min(max(sums.mean(), 0.0), 1.0)

    def edge(side: Literal["above", "below"]) -> float:
        # The bound is the nearest m not rejected; the e-value falls as m moves toward the mean.
        inside, outside = mean, (0.0 if side == "above" else 1.0)
        if log_e_mean(sums, min(max(outside, 1e-9), 1 - 1e-9), side) < target:
            return outside
        for _ in range(40):
            mid = (inside + outside) / 2
            if log_e_mean(sums, mid, side) >= target:
                outside = mid
            else:
                inside = mid
        return outside

    return edge("above"), edge("below")


def difference_bounds(canary: ScoreSums, baseline: ScoreSums, alpha: float) -> tuple[float, float]:
    """Anytime-valid (lower, upper) bounds of mean(canary) - mean(baseline), each one-sided at level alpha.

    Each arm's bound is taken at alpha / 2 (a union bound), so each side of the difference holds
    with probability at least 1 - alpha at every interval, with no assumption on the scores'
    distribution beyond the range.
    """
    c_lo, c_hi = mean_bounds(canary, alpha / 2)
    b_lo, b_hi = mean_bounds(baseline, alpha / 2)
    return c_lo - b_hi, c_hi - b_lo
