"""Stream families for the canary benchmarks: traffic the judge was not designed around.

Each family draws, for one bad-event metric at a baseline rate ``rate``, per
one-minute interval the requests and bad events of both arms. The canary's
rate is the baseline's times ``ratio``. Every family has a slow drift of the
rate shared by both arms (time of day) and a canary share that is realised
per request (binomially), so the split is never exactly the nominal weight.

- independent: every request fails independently (Binomial).
- bursts: failures come in incidents; an incident fails a Geometric number of
  consecutive requests of one arm (mean ``BURST``), so the variance of a count
  is about (2 BURST - 1) times its mean.
- overdispersed: each arm's rate wobbles on its own from interval to interval
  (a Gamma multiplier with coefficient of variation ``WOBBLE``).
- sticky users: requests come from sessions (users) that stay on one arm for
  their whole life (Exponential, mean ``SESSION_MINUTES``), each session with
  its own failure propensity (Gamma, shape ``SESSION_SHAPE``: a few users fail
  a lot); the canary's sessions are a random ``share`` of them.
- split off nominal: the canary receives ``SPLIT_OFF`` times the nominal share.
- heavy sticky users (issue #27's held-out kind): ``USERS`` users stay on one arm for the whole
  canary (the canary's are a random ``share`` of them); each user's activity is a Gamma multiplier
  with shape ``USER_SHAPE`` (a few users make most requests), their sessions bring
  ``HEAVY_SESSION_REQUESTS_PER_MINUTE`` requests a minute for an Exponential ``SESSION_MINUTES``,
  and each session has its own failure propensity (Gamma, shape ``SESSION_SHAPE``).

``rps`` is the total request rate; ``share`` the nominal canary share.

With ``groups`` G > 0 each arm's counts are also given per session group, as the app reports them
(genai_cicd_app, plan ``session_groups``): in the sticky families a session's (heavy: a user's)
requests all fall in one group (its index mod G); in the others requests are independent, so their
counts are split among the groups multinomially, by a generator seeded from the stream itself (the
stream's own draws are the same with or without groups).
"""

from __future__ import annotations

import math

import numpy as np

BURST = 4.0
WOBBLE = 1.0
SESSION_MINUTES = 5.0
SESSION_REQUESTS_PER_MINUTE = 3.0
SESSION_SHAPE = 0.2
SPLIT_OFF = 1.3
USERS = 1000
USER_SHAPE = 0.2
HEAVY_SESSION_REQUESTS_PER_MINUTE = 10.0

FAMILIES = ("independent", "bursts", "overdispersed", "sticky users", "heavy sticky users", "split off nominal")


def _drift(rng: np.random.Generator, minutes: int) -> np.ndarray:
    phase = rng.uniform(0, 2 * math.pi)
    return 1 + 0.3 * np.sin(phase + 2 * math.pi * np.arange(minutes) / 240)


def _bursty(rng: np.random.Generator, n: np.ndarray, rate: np.ndarray) -> np.ndarray:
    incidents = rng.poisson(n * rate / BURST)
    out = np.zeros_like(n, dtype=float)
    for idx in np.flatnonzero(incidents):
        out.flat[idx] = rng.geometric(1 / BURST, size=incidents.flat[idx]).sum()
    return np.minimum(out, n)


def _sticky(rng: np.random.Generator, minutes: int, rps: float, share: float,
            rates: dict[str, tuple[float, float]], drift: np.ndarray, groups: int = 0) -> dict[str, np.ndarray]:
    per_session = SESSION_REQUESTS_PER_MINUTE
    concurrent = rps * 60 / per_session
    arrivals = rng.poisson(concurrent / SESSION_MINUTES, size=minutes)
    # sessions alive at the start, then the arrivals of each minute
    starts = np.concatenate([np.zeros(rng.poisson(concurrent), dtype=int),
                             np.repeat(np.arange(minutes), arrivals)])
    life = rng.exponential(SESSION_MINUTES, size=starts.size)
    ends = np.minimum(minutes, starts + np.ceil(life).astype(int))
    canary = rng.random(starts.size) < share
    return _sessions(rng, minutes, starts, ends, canary, np.arange(starts.size), per_session, rates, drift, groups)


def _sessions(rng: np.random.Generator, minutes: int, starts: np.ndarray, ends: np.ndarray, canary: np.ndarray,
              cluster: np.ndarray, per_session: float, rates: dict[str, tuple[float, float]], drift: np.ndarray,
              groups: int) -> dict[str, np.ndarray]:
    """Requests and bad events of sessions (start, end, arm), per minute; per group of ``cluster`` mod G."""
    out = {key: np.zeros(minutes) for key in ("baseline_requests", "canary_requests")}
    width = max(groups, 1)
    by_group = {f"groups_{a}_requests": np.zeros((minutes, width)) for a in ("baseline", "canary")}
    requests = [rng.poisson(per_session, size=max(e - s, 0)) for s, e in zip(starts, ends, strict=True)]
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        if e > s:
            arm = "canary" if canary[i] else "baseline"
            out[f"{arm}_requests"][s:e] += requests[i]
            by_group[f"groups_{arm}_requests"][s:e, cluster[i] % width] += requests[i]
    for metric, (rate, ratio) in rates.items():
        propensity = rate * rng.gamma(SESSION_SHAPE, 1 / SESSION_SHAPE, size=starts.size)
        bad = {"baseline": np.zeros(minutes), "canary": np.zeros(minutes)}
        for a in ("baseline", "canary"):
            by_group[f"groups_{a}_{metric}"] = np.zeros((minutes, width))
        for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
            if e <= s:
                continue
            arm = "canary" if canary[i] else "baseline"
            p = np.minimum(1.0, propensity[i] * (ratio if canary[i] else 1.0) * drift[s:e])
            x = rng.binomial(requests[i], p)
            bad[arm][s:e] += x
            by_group[f"groups_{arm}_{metric}"][s:e, cluster[i] % width] += x
        out[f"baseline_{metric}"], out[f"canary_{metric}"] = bad["baseline"], bad["canary"]
    return {**out, **by_group} if groups else out


def _heavy_sticky(rng: np.random.Generator, minutes: int, rps: float, share: float,
                  rates: dict[str, tuple[float, float]], drift: np.ndarray, groups: int = 0) -> dict[str, np.ndarray]:
    per_session = HEAVY_SESSION_REQUESTS_PER_MINUTE
    concurrent = rps * 60 / per_session
    activity = rng.gamma(USER_SHAPE, 1 / USER_SHAPE, size=USERS)
    on_canary = rng.random(USERS) < share
    arrivals = rng.poisson(concurrent / SESSION_MINUTES, size=minutes)
    starts = np.concatenate([np.zeros(rng.poisson(concurrent), dtype=int), np.repeat(np.arange(minutes), arrivals)])
    user = rng.choice(USERS, size=starts.size, p=activity / activity.sum())  # busy users start more sessions
    canary = on_canary[user]
    life = rng.exponential(SESSION_MINUTES, size=starts.size)
    ends = np.minimum(minutes, starts + np.ceil(life).astype(int))
    # The app's sticky key is the user here: all of a user's sessions fall in one group.
    return _sessions(rng, minutes, starts, ends, canary, user, per_session, rates, drift, groups)


def stream(family: str, rng: np.random.Generator, *, minutes: int, rps: float, share: float,
           rates: dict[str, tuple[float, float]], onset: int = 0, groups: int = 0,
           failing: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Per minute: baseline_requests, canary_requests and, per metric, baseline_<m> and canary_<m>.

    ``rates`` maps a metric to (baseline rate, canary/baseline ratio); the ratio applies from minute
    ``onset`` on (a regression that starts within the step), 1 before. ``failing`` maps a metric to a
    share of the canary's requests that fail besides (a broken candidate: each of its requests fails
    with that probability, whoever sent it), from the first minute.
    """
    out = _family_stream(family, rng, minutes=minutes, rps=rps, share=share, rates=rates, onset=onset, groups=groups)
    for metric, share_failing in (failing or {}).items():
        out = _add_failing(rng, out, metric, share_failing)
    return out


def _add_failing(rng: np.random.Generator, s: dict[str, np.ndarray], metric: str,
                 share_failing: float) -> dict[str, np.ndarray]:
    """The canary's requests not already bad fail with probability ``share_failing`` (per group, if any)."""
    out = dict(s)
    if f"groups_canary_{metric}" in s:
        bad, requests = s[f"groups_canary_{metric}"], s["groups_canary_requests"]
        extra = rng.binomial((requests - bad).clip(min=0).astype(int), share_failing).astype(float)
        out[f"groups_canary_{metric}"] = bad + extra
        out[f"canary_{metric}"] = s[f"canary_{metric}"] + extra.sum(axis=1)
    else:
        bad, requests = s[f"canary_{metric}"], s["canary_requests"]
        out[f"canary_{metric}"] = bad + rng.binomial((requests - bad).clip(min=0).astype(int), share_failing)
    return out


def _family_stream(family: str, rng: np.random.Generator, *, minutes: int, rps: float, share: float,
                   rates: dict[str, tuple[float, float]], onset: int, groups: int) -> dict[str, np.ndarray]:
    drift = _drift(rng, minutes)
    if family in ("sticky users", "heavy sticky users"):
        if onset:
            raise ValueError("the sticky-users families have no onset")
        return (_sticky if family == "sticky users" else _heavy_sticky)(rng, minutes, rps, share, rates, drift,
                                                                        groups)
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    n = rng.poisson(rps * 60, size=minutes)
    real_share = min(0.99, share * SPLIT_OFF) if family == "split off nominal" else share
    n_c = rng.binomial(n, real_share)
    n_b = n - n_c
    out = {"baseline_requests": n_b.astype(float), "canary_requests": n_c.astype(float)}
    for metric, (rate, ratio) in rates.items():
        r_b = np.minimum(1.0, rate * drift)
        r_c = np.minimum(1.0, rate * drift * np.where(np.arange(minutes) >= onset, ratio, 1.0))
        if family == "bursts":
            x_b, x_c = _bursty(rng, n_b, r_b), _bursty(rng, n_c, r_c)
        elif family == "overdispersed":
            k = 1 / WOBBLE**2
            x_b = rng.poisson(n_b * np.minimum(1.0, r_b * rng.gamma(k, 1 / k, size=minutes))).clip(max=n_b)
            x_c = rng.poisson(n_c * np.minimum(1.0, r_c * rng.gamma(k, 1 / k, size=minutes))).clip(max=n_c)
        else:
            x_b, x_c = rng.binomial(n_b, r_b), rng.binomial(n_c, r_c)
        out[f"baseline_{metric}"], out[f"canary_{metric}"] = x_b.astype(float), x_c.astype(float)
    return out | _split(out, groups) if groups else out


def _split(s: dict[str, np.ndarray], groups: int) -> dict[str, np.ndarray]:
    """Independent requests in G groups: each request's group is uniform, and a bad event falls in a
    group in proportion to the group's requests that minute."""
    split = np.random.default_rng([int(s["baseline_requests"].sum()), int(s["canary_requests"].sum()), groups])
    metrics = [k[len("baseline_"):] for k in s if k.startswith("baseline_") and k != "baseline_requests"]
    out: dict[str, np.ndarray] = {}
    for arm in ("baseline", "canary"):
        requests = split.multinomial(s[f"{arm}_requests"].astype(int), np.full(groups, 1.0 / groups))
        out[f"groups_{arm}_requests"] = requests.astype(float)
        shares = requests / np.maximum(requests.sum(axis=1, keepdims=True), 1)
        shares[requests.sum(axis=1) == 0] = 1.0 / groups
        for metric in metrics:
            bad = s[f"{arm}_{metric}"].astype(int)
            out[f"groups_{arm}_{metric}"] = np.array([split.multinomial(b, p) for b, p in zip(bad, shares,
                                                                                           strict=True)], dtype=float)
    return out


def group_intervals(s: dict[str, np.ndarray]) -> list[tuple[dict[str, list[float]], dict[str, list[float]]]]:
    """(baseline, canary) per-group sums per minute, as AnalyzeCanary passes them to the judge."""
    fields = [k[len("groups_baseline_"):] for k in s if k.startswith("groups_baseline_")]
    return [({f: [float(v) for v in s[f"groups_baseline_{f}"][t]] for f in fields},
             {f: [float(v) for v in s[f"groups_canary_{f}"][t]] for f in fields})
            for t in range(len(s["baseline_requests"]))]


def intervals(s: dict[str, np.ndarray]) -> list[tuple[dict[str, float | None], dict[str, float | None]]]:
    """(baseline, canary) per minute, as the judge and the canary stream format take them."""
    metrics = [k[len("baseline_"):] for k in s if k.startswith("baseline_") and k != "baseline_requests"]
    out = []
    for t in range(len(s["baseline_requests"])):
        b: dict[str, float | None] = {"requests": float(s["baseline_requests"][t])}
        c: dict[str, float | None] = {"requests": float(s["canary_requests"][t])}
        for m in metrics:
            b[m] = float(s[f"baseline_{m}"][t])
            c[m] = float(s[f"canary_{m}"][t])
        out.append((b, c))
    return out


COST_SIGMA = 1.0  # lognormal sigma of the cost of one request: heavy-tailed, the mean is 1.6x the median


def mean_cost(rng: np.random.Generator, n: np.ndarray, mean: np.ndarray, sigma: float) -> np.ndarray:
    """Cost per request of intervals with n requests (NaN where n = 0), Fenton-Wilkinson.

    The mean of n lognormal requests is drawn as one lognormal with the sum's exact mean and
    variance, so streams of 100 requests/s stay cheap.
    """
    safe = np.maximum(n, 1)
    s2 = np.log1p(np.expm1(sigma**2) / safe)
    draw = np.exp(np.log(mean) - s2 / 2 + np.sqrt(s2) * rng.standard_normal(np.shape(n)))
    return np.where(n > 0, draw, np.nan)


def add_cost(rng: np.random.Generator, s: dict[str, np.ndarray], ratio: float, sigma: float = COST_SIGMA,
             usd_per_request: float = 0.002, baseline_sigma: float = COST_SIGMA) -> dict[str, np.ndarray]:
    """cost_usd per arm and interval: the baseline's mean cost per request drifts with the traffic mix
    (shared by both arms); the canary's is ``ratio`` times it, with its own tail (``sigma``)."""
    minutes = len(s["baseline_requests"])
    mix = usd_per_request * _drift(rng, minutes)
    base = mean_cost(rng, s["baseline_requests"], mix, baseline_sigma)
    cand = mean_cost(rng, s["canary_requests"], mix * ratio, sigma)
    return {**s, "baseline_cost_usd": np.nan_to_num(base) * s["baseline_requests"],
            "canary_cost_usd": np.nan_to_num(cand) * s["canary_requests"]}
