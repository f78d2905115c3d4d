"""Open-model arrivals: visit i of a phase is due at phase start + i / rate, whatever the server does.

Latency counts from the due time, so a server that falls behind cannot slow the client and
hide its queue (no coordinated omission). The client's own lag is measured too: a starved
client makes every figure worse, never better.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.loadgen.stats import PhaseStats

Visit = Callable[[PhaseStats, float], Awaitable[None]]


@dataclass(frozen=True)
class Stream:
    """One kind of arrival: its step name, rate per second, and whether a spike multiplies it."""

    name: str
    first_step: str
    rate: float
    visit: Visit
    follows_spike: bool = True


@dataclass(frozen=True)
class Phase:
    """A stretch of the run at some multiple of the base rates."""

    stats: PhaseStats
    multiplier: float


class Inflight:
    """The visits still running, bounded so a stalled server cannot exhaust the client's sockets."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, visit: Awaitable[None]) -> bool:
        """Start a visit unless the bound is reached; return whether it started."""
        if len(self.tasks) >= self.limit:
            return False
        task = asyncio.ensure_future(visit)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def drain(self, seconds: float) -> int:
        """Wait for running visits; cancel what is left after `seconds` and return how many."""
        if self.tasks:
            _done, late = await asyncio.wait(set(self.tasks), timeout=seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            return len(late)
        return 0


async def _guarded(visit: Awaitable[None], stats: PhaseStats, step: str) -> None:
    """Run a visit; a bug in the client is counted as a failure, never silently lost."""
    try:
        await visit
    except Exception as exc:  # whatever it was, it must show in the report
        stats.steps[step].count(f"client error: {type(exc).__name__}: {exc}"[:80])


async def arrivals(stream: Stream, phases: list[Phase], start: float, inflight: Inflight) -> None:
    """Launch the stream's visits on schedule through every phase."""
    loop = asyncio.get_running_loop()
    offset = 0.0
    for phase in phases:
        rate = stream.rate * (phase.multiplier if stream.follows_spike else 1.0)
        for index in range(int(rate * phase.stats.seconds)):
            due = start + offset + index / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            phase.stats.launch_lag_ms.append(max(0.0, loop.time() - due) * 1000)
            phase.stats.arrivals[stream.name] += 1
            if not inflight.start(_guarded(stream.visit(phase.stats, due), phase.stats, stream.first_step)):
                phase.stats.steps[stream.first_step].count("dropped: client at its in-flight bound")
        offset += phase.stats.seconds
