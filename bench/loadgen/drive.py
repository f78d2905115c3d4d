"""One load run against a running server: staff sign in, then shoppers and board polls arrive on time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.loadgen.http import Browser
from bench.loadgen.schedule import Inflight, Phase, Stream, arrivals
from bench.loadgen.servers import Server
from bench.loadgen.shopper import Ledger, ShopperPlan, Shoppers
from bench.loadgen.staff import StaffLogin, board_poller, sign_in
from bench.loadgen.stats import PhaseStats, RunStats


@dataclass(frozen=True)
class Rates:
    """Base arrival rates per second, the spike's multiple and the phases' lengths."""

    photo: float = 10.0
    plain: float = 200.0
    board: float = 4.0
    duration: float = 600.0
    spike: float = 3.0
    spike_duration: float = 60.0
    photos: tuple[int, int] = (1, 3)


async def _warm_up(port: int, paths: list[str]) -> None:
    """Open every poster a few times so each worker has imported and cached what a scan needs."""
    browser = Browser(port)
    for path in paths * 4:
        await browser.request("GET", path)
    browser.close()


async def _sample_cpu(server: Server, phases: list[Phase], start: float) -> None:
    """Charge each phase the CPU the server's processes, and this client, used during it."""
    loop, moment = asyncio.get_running_loop(), start
    await asyncio.sleep(max(0.0, moment - loop.time()))
    before, client_before = server.cpu_seconds(), time.process_time()
    proxy_before = server.proxy_cpu_seconds()
    for phase in phases:
        moment += phase.stats.seconds
        await asyncio.sleep(max(0.0, moment - loop.time()))
        after, client_after = server.cpu_seconds(), time.process_time()
        proxy_after = server.proxy_cpu_seconds()
        phase.stats.server_cpu_s, before = after - before, after
        phase.stats.client_cpu_s, client_before = client_after - client_before, client_after
        phase.stats.proxy_cpu_s, proxy_before = proxy_after - proxy_before, proxy_after


async def drive(
    server: Server,
    logins: list[StaffLogin],
    plan: ShopperPlan,
    rates: Rates,
    ledger: Ledger,
    max_inflight: int,
) -> RunStats:
    """Run the sustained phase, then the spike, noting receipts in `ledger`; return what was measured."""
    staff = [await sign_in(server.port, login) for login in logins]
    await _warm_up(server.port, plan.poster_paths)
    phases = [Phase(PhaseStats("sustained", rates.duration), 1.0)]
    if rates.spike_duration > 0:
        phases.append(Phase(PhaseStats("spike", rates.spike_duration), rates.spike))
    shoppers = Shoppers(plan, ledger)
    streams = [
        Stream("shoppers with photos", "form GET", rates.photo, shoppers.visit(rates.photos)),
        Stream("shoppers without", "form GET", rates.plain, shoppers.visit((0, 0))),
        Stream(
            "board polls", "board poll", rates.board, board_poller(server.port, staff, plan.timeout), False
        ),
    ]
    inflight = Inflight(max_inflight)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    cpu_before, client_before = server.cpu_seconds(), time.process_time()
    proxy_before = server.proxy_cpu_seconds()
    await asyncio.gather(
        _sample_cpu(server, phases, start),
        *(arrivals(stream, phases, start, inflight) for stream in streams if stream.rate > 0),
    )
    # The longest visit: form, every submit attempt with its pauses, receipt.
    patience = plan.timeout * (plan.retries + 3) + plan.retry_cap * plan.retries + 5
    unfinished = await inflight.drain(patience)
    for _ in range(unfinished):
        phases[-1].stats.steps["form GET"].count("cancelled: still running at the end")
    return RunStats(
        [phase.stats for phase in phases],
        server.cpu_seconds() - cpu_before,
        time.process_time() - client_before,
        loop.time() - start,
        server.proxy_cpu_seconds() - proxy_before,
    )
