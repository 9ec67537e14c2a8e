"""The staffing solver: the published Erlang C worked example, Erlang A against Erlang C, and both
against a brute-force simulation of the queue (agents needed within 1)."""

from __future__ import annotations

import heapq
import math
import random

import pytest
from typer.testing import CliRunner

from caredesk.analytics.staffing import Demand, agents_needed, erlang_c, evaluate, plan
from caredesk.cli.main import app


def test_the_published_worked_example() -> None:
    """100 contacts in 30 minutes, 180 s handling, 80% answered in 20 s: 10 Erlangs, 14 agents (13 give
    79.6%), 20 scheduled with 30% shrinkage (callcentrehelper.com's Erlang C worked example)."""
    d = Demand(arrivals=100, interval_seconds=1800, handle_seconds=180, target_share=0.8, target_seconds=20)
    assert d.traffic == pytest.approx(10.0)
    assert erlang_c(14, 10.0) == pytest.approx(0.1741, abs=5e-4)
    out = agents_needed(d)
    assert (out.agents, round(out.service_level, 3), round(out.occupancy, 3)) == (14, 0.888, 0.714)
    assert round(out.average_wait_seconds, 1) == 7.8
    assert evaluate(13, d).service_level == pytest.approx(0.7956, abs=1e-4)
    shrunk = agents_needed(Demand(100, 1800, 180, 0.8, 20, shrinkage=0.3))
    assert (shrunk.agents, shrunk.scheduled) == (14, 20)


def test_erlang_b_and_c_against_their_textbook_values() -> None:
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # M/M/2 at rho 1/2: P(wait) = 1/3
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(5, 5.0) == 1.0  # unstable: everyone waits


def test_erlang_a_becomes_erlang_c_when_nobody_gives_up_and_needs_no_more_agents_otherwise() -> None:
    c = Demand(100, 1800, 180, 0.8, 20)
    patient = Demand(100, 1800, 180, 0.8, 20, patience_seconds=1e8)
    for n in (11, 12, 14, 16):
        assert evaluate(n, patient).service_level == pytest.approx(evaluate(n, c).service_level, abs=1e-5)
        assert evaluate(n, patient).wait_probability == pytest.approx(
            evaluate(n, c).wait_probability, abs=1e-5
        )
    impatient = Demand(100, 1800, 180, 0.8, 20, patience_seconds=120)
    out = agents_needed(impatient)
    assert out.agents <= agents_needed(c).agents and out.abandoned_share > 0.01


def test_occupancy_cap_concurrency_and_a_week_plan() -> None:
    capped = agents_needed(Demand(100, 1800, 180, 0.5, 60, max_occupancy=0.6))
    assert capped.occupancy <= 0.6 and capped.agents == math.ceil(10 / 0.6)
    chat = agents_needed(Demand(300, 3600, 900, 0.8, 120, concurrency=3))
    alone = agents_needed(Demand(300, 3600, 900, 0.8, 120, concurrency=1))
    assert chat.agents * 3 >= alone.agents >= chat.agents * 2  # three at once takes about a third
    week = plan({9: 100.0, 10: 250.0}, Demand(1, 3600, 180, 0.8, 60))
    assert len(week) == 168 and week[0].agents == 0 and week[10].agents > week[9].agents > 0


def simulate(d: Demand, agents: int, contacts: int, seed: int) -> float:
    """Share of contacts answered within the target, first come first served, from a direct simulation:
    each arrival takes the earliest free server, or gives up when that is further than its patience."""
    rng = random.Random(seed)
    rate = d.arrivals / d.interval_seconds
    free = [0.0] * (agents * d.concurrency)
    heapq.heapify(free)
    now, answered = 0.0, 0
    for _ in range(contacts):
        now += rng.expovariate(rate)
        wait = max(0.0, free[0] - now)
        patience = rng.expovariate(1 / d.patience_seconds) if d.patience_seconds else math.inf
        if wait > patience:
            continue  # gave up: the server stays free for the next in line
        start = now + wait
        heapq.heapreplace(free, start + rng.expovariate(1 / d.handle_seconds))
        answered += wait <= d.target_seconds
    return answered / contacts


def simulated_agents(d: Demand, around: int) -> int:
    for n in range(max(1, around - 3), around + 4):
        if simulate(d, n, 60_000, seed=n) >= d.target_share:
            return n
    raise AssertionError("the simulation needs many more agents than the solver")


@pytest.mark.parametrize(
    "demand",
    [
        Demand(100, 1800, 180, 0.8, 20),
        Demand(400, 3600, 240, 0.9, 30),
        Demand(100, 1800, 180, 0.8, 20, patience_seconds=120),
        Demand(600, 3600, 600, 0.8, 120, patience_seconds=300, concurrency=2),
    ],
    ids=["erlang-c-example", "erlang-c-busy", "erlang-a", "erlang-a-chat"],
)
def test_the_solver_agrees_with_a_simulation_within_one_agent(demand: Demand) -> None:
    solved = agents_needed(demand).agents
    assert abs(simulated_agents(demand, solved) - solved) <= 1
    # the model's service level itself is close to the simulated one at the solved staffing
    assert simulate(demand, solved, 60_000, seed=7) == pytest.approx(
        evaluate(solved, demand).service_level, abs=0.03
    )


def test_the_cli_answers_the_worked_example() -> None:
    args = [
        "report",
        "staffing",
        "--arrivals",
        "100",
        "--interval",
        "1800",
        "--handle",
        "180",
        "--within",
        "20",
    ]
    done = CliRunner().invoke(app, [*args, "--shrinkage", "0.3"])
    assert done.exit_code == 0 and done.output.startswith("14 agents (20 scheduled with 30% shrinkage)")
    bad = CliRunner().invoke(app, [*args, "--target", "1.5"])
    assert bad.exit_code != 0 and "target share" in bad.output
