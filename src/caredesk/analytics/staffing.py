"""How many agents an interval needs: Erlang C (customers wait as long as it takes) and Erlang A
(customers give up after an exponentially distributed patience), with concurrency (an agent holds
several conversations at once), an occupancy cap and shrinkage. Definitions: docs/metrics.md, "Staffing".

Both models take Poisson arrivals at `arrivals / interval_seconds` and exponential handling times with
mean `handle_seconds`, served first come first served by `agents * concurrency` identical servers (an
agent with concurrency c is c servers: the usual approximation for chat and social care). The service
level is the share of all contacts offered that are answered within `target_seconds`; in Erlang A a
contact that gives up first is not answered. `agents_needed` is the fewest agents that meet the service
level and keep occupancy at or under the cap; `scheduled` adds shrinkage (breaks, training, absence):
`ceil(agents / (1 - shrinkage))`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.linalg import expm

MAX_AGENTS = 5_000
QUEUE_STATES = 1_500


@dataclass(frozen=True, slots=True)
class Demand:
    arrivals: float  # contacts arriving in the interval
    interval_seconds: float
    handle_seconds: float  # mean handling time of one contact
    target_share: float = 0.8  # e.g. 80% ...
    target_seconds: float = 20.0  # ... answered within 20 seconds
    patience_seconds: float | None = None  # mean patience: Erlang A; None: Erlang C
    concurrency: int = 1
    max_occupancy: float = 1.0
    shrinkage: float = 0.0

    def __post_init__(self) -> None:
        if self.arrivals < 0 or self.interval_seconds <= 0 or self.handle_seconds <= 0:
            raise ValueError("arrivals >= 0, interval and handling time > 0")
        if not 0 < self.target_share < 1 or self.target_seconds < 0:
            raise ValueError("target share in (0, 1), target seconds >= 0")
        if self.patience_seconds is not None and self.patience_seconds <= 0:
            raise ValueError("patience must be > 0 seconds")
        if self.concurrency < 1 or not 0 < self.max_occupancy <= 1 or not 0 <= self.shrinkage < 1:
            raise ValueError("concurrency >= 1, occupancy cap in (0, 1], shrinkage in [0, 1)")

    @property
    def traffic(self) -> float:
        """Offered load in Erlangs: arrivals times handling time over the interval."""
        return self.arrivals * self.handle_seconds / self.interval_seconds


@dataclass(frozen=True, slots=True)
class Outcome:
    agents: int  # productive agents needed
    scheduled: int  # with shrinkage
    service_level: float  # share answered within the target time
    wait_probability: float  # share who wait at all
    average_wait_seconds: float  # mean wait of those answered (Erlang C: of all)
    occupancy: float  # traffic / (agents * concurrency)
    abandoned_share: float  # Erlang A: share who give up; Erlang C: 0
    model: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def erlang_b(servers: int, traffic: float) -> float:
    """Blocking probability, by the stable recursion B(n) = A B(n-1) / (n + A B(n-1))."""
    b = 1.0
    for n in range(1, servers + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(servers: int, traffic: float) -> float:
    """Probability that a contact waits (all servers busy); 1 when the queue is unstable."""
    if traffic <= 0:
        return 0.0
    if servers <= traffic:
        return 1.0
    b = erlang_b(servers, traffic)
    return servers * b / (servers - traffic * (1 - b))


def _erlang_c_outcome(servers: int, d: Demand) -> tuple[float, float, float]:
    a = d.traffic
    if a <= 0:
        return 1.0, 0.0, 0.0
    if servers <= a:
        return 0.0, 1.0, math.inf
    c = erlang_c(servers, a)
    sl = 1 - c * math.exp(-(servers - a) * d.target_seconds / d.handle_seconds)
    asa = c * d.handle_seconds / (servers - a)
    return sl, c, asa


def _erlang_a_outcome(servers: int, d: Demand) -> tuple[float, float, float, float]:
    """(service level, wait probability, mean wait of the answered, abandoned share) of M/M/s+M."""
    lam = d.arrivals / d.interval_seconds
    mu = 1 / d.handle_seconds
    theta = 1 / float(d.patience_seconds or 1)
    if lam <= 0:
        return 1.0, 0.0, 0.0, 0.0
    # Stationary distribution of the number in system, cut where the tail no longer matters (at most
    # QUEUE_STATES waiting places: beyond them the service level is nil anyway).
    logs = [0.0]
    n, peak = 0, 0.0
    while True:
        n += 1
        death = mu * min(n, servers) + theta * max(n - servers, 0)
        logs.append(logs[-1] + math.log(lam) - math.log(death))
        peak = max(peak, logs[-1])
        settled = n > servers and lam < death and logs[-1] < peak - 40
        if settled or n - servers >= QUEUE_STATES:
            break
    log_p = np.array(logs)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    waiting = p[servers:]  # an arrival finds q = n - servers ahead of it (PASTA)
    wait_probability = float(waiting.sum())
    queue_mean = float(np.dot(np.arange(len(waiting)), waiting))
    abandoned = theta * queue_mean / lam
    # The tagged contact's own fate: states "j ahead" (j = 0..Q), then served or gave up.
    q = len(waiting) - 1
    size = q + 3
    served, gave_up = q + 1, q + 2
    gen = np.zeros((size, size))
    for j in range(q + 1):
        advance = servers * mu + j * theta
        gen[j, j - 1 if j > 0 else served] += advance
        gen[j, gave_up] += theta
        gen[j, j] = -(advance + theta)
    start = np.zeros(size)
    start[: q + 1] = waiting
    at_target = start @ expm(gen * d.target_seconds) if d.target_seconds > 0 else start
    answered_in_time = (1 - wait_probability) + float(at_target[served])
    # Mean wait of those answered: integrate P(still waiting) over time, weighted by being served.
    eventually = float(start @ _absorption(gen, served, q))
    answered = (1 - wait_probability) + eventually
    mean_wait = _mean_wait_of_served(gen, start, served, q) / answered if answered > 0 else 0.0
    return float(answered_in_time), wait_probability, float(mean_wait), float(abandoned)


def _absorption(gen: np.ndarray, served: int, q: int) -> float:
    """Probability of ending served, from each transient state (vector over states)."""
    transient = gen[: q + 1, : q + 1]
    to_served = gen[: q + 1, served]
    out = np.zeros(gen.shape[0])
    out[: q + 1] = np.linalg.solve(-transient, to_served)
    return out  # type: ignore[return-value]


def _mean_wait_of_served(gen: np.ndarray, start: np.ndarray, served: int, q: int) -> float:
    """E[wait; served] for the waiting ones: with h = P(served | state), E[T 1{served}] solves
    -T m = h (T the transient generator)."""
    transient = gen[: q + 1, : q + 1]
    h = np.linalg.solve(-transient, gen[: q + 1, served])
    m = np.linalg.solve(-transient, h)
    return float(start[: q + 1] @ m)


def evaluate(agents: int, d: Demand) -> Outcome:
    """The service an interval gets from `agents` agents."""
    servers = agents * d.concurrency
    occupancy = d.traffic / servers if servers else math.inf
    if d.patience_seconds is None:
        sl, wait_p, asa = _erlang_c_outcome(servers, d)
        abandoned, model = 0.0, "erlang_c"
    else:
        sl, wait_p, asa, abandoned = _erlang_a_outcome(servers, d) if servers else (0.0, 1.0, math.inf, 1.0)
        model = "erlang_a"
    return Outcome(
        agents=agents,
        scheduled=math.ceil(agents / (1 - d.shrinkage) - 1e-9),
        service_level=sl,
        wait_probability=wait_p,
        average_wait_seconds=asa,
        # Erlang A: the load carried (those who give up take no agent time) over the servers
        occupancy=occupancy * (1 - abandoned) if d.patience_seconds is not None else occupancy,
        abandoned_share=abandoned,
        model=model,
    )


def agents_needed(d: Demand) -> Outcome:
    """The fewest agents meeting the service level within the occupancy cap. The service level rises
    with every agent added, and so does the room under the cap, so a binary search finds it."""
    if d.traffic <= 0:
        return evaluate(0, d)

    def enough(n: int) -> bool:
        out = evaluate(n, d)
        return out.service_level >= d.target_share and out.occupancy <= d.max_occupancy + 1e-12

    low = 0  # not enough
    high = max(1, math.ceil(d.traffic / d.concurrency))
    while not enough(high):
        low, high = high, high * 2
        if high > MAX_AGENTS:
            raise ValueError(f"more than {MAX_AGENTS} agents needed")
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return evaluate(high, d)


def plan(arrivals_by_hour: Mapping[int, float], base: Demand) -> dict[int, Outcome]:
    """Agents per hour of the week (0 = Monday 00:00) for the arrivals expected in each hour, with the
    rest of `base` (handling time, target, patience, concurrency, cap, shrinkage); interval: 1 hour."""
    out = {}
    for hour in range(168):
        demand = Demand(
            arrivals=float(arrivals_by_hour.get(hour, 0.0)),
            interval_seconds=3600,
            handle_seconds=base.handle_seconds,
            target_share=base.target_share,
            target_seconds=base.target_seconds,
            patience_seconds=base.patience_seconds,
            concurrency=base.concurrency,
            max_occupancy=base.max_occupancy,
            shrinkage=base.shrinkage,
        )
        out[hour] = agents_needed(demand)
    return out
