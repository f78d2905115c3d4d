"""Print a run: one table row per phase and step, then the targets' verdict."""

from __future__ import annotations

import math
import os

from bench.loadgen.checks import Check
from bench.loadgen.stats import FATES, PhaseStats, RunStats, percentile

FORM_P95_MS = 300.0
SUBMIT_P95_MS = 2000.0
HEADER = (
    f"  {'phase':<10} {'step':<12} {'ok/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
    f"{'ok':>7} {'shed':>5} {'fail':>5}  other outcomes (status x count)"
)


def table(phases: list[PhaseStats]) -> list[str]:
    """Return the table lines: throughput, latency percentiles and outcomes per step."""
    lines = [HEADER]
    for phase in phases:
        for name, step in phase.steps.items():
            values = step.latencies_ms
            lines.append(
                f"  {phase.name:<10} {name:<12} {phase.throughput(name):7.1f} {percentile(values, 50):8.1f} "
                f"{percentile(values, 95):8.1f} {percentile(values, 99):8.1f} "
                f"{max(values, default=float('nan')):8.1f} {step.answered_ok:7d} {step.shed:5d} "
                f"{step.failures:5d}  {step.errors_text()}"
            )
        offered = ", ".join(f"{name} {n / phase.seconds:.1f}/s" for name, n in sorted(phase.arrivals.items()))
        lines.append(
            f"  {'':<10} offered: {offered}; client launch lag p99 "
            f"{percentile(phase.launch_lag_ms, 99):.1f} ms"
        )
        lines.append(
            f"  {'':<10} CPU over {phase.seconds:g} s: server {phase.server_cpu_s:.1f} s, load client "
            f"{phase.client_cpu_s:.1f} s{_proxy(phase.proxy_cpu_s)}"
        )
        lines.append(f"  {'':<10} {fates_line(phase)}")
    return lines


def _proxy(cpu_s: float) -> str:
    return "" if math.isnan(cpu_s) else f", nginx {cpu_s:.1f} s"


def fates_line(phase: PhaseStats) -> str:
    """Say how the phase's shoppers' visits ended, with each share of those who arrived."""
    arrived = phase.shoppers_arrived()
    ended = [(name, phase.shoppers[name]) for name in FATES]
    unfinished = arrived - sum(n for _name, n in ended)
    parts = [f"{name} {n} ({100 * n / arrived if arrived else 0:.1f} %)" for name, n in ended]
    return f"shoppers: {arrived} arrived; " + ", ".join(parts) + f"; unfinished {unfinished}"


def cpu_line(run: RunStats) -> str:
    """Say what the server's CPU per shopper allows on this machine's cores, whatever else runs on it."""
    per_shopper, cores = run.server_ms_per_shopper(), os.cpu_count() or 1
    ceiling = cores * 1000 / per_shopper
    return (
        f"  whole run ({run.wall_s:.0f} s to the last answer): server CPU {run.server_cpu_s:.1f} s, "
        f"load client {run.client_cpu_s:.1f} s; server CPU per acknowledged shopper (form, submit, "
        f"receipt, share of board polls) {per_shopper:.1f} ms -> CPU-bound ceiling {ceiling:.0f} "
        f"shoppers/s on {cores} idle cores{_proxy(run.proxy_cpu_s)} in front"
    )


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def verdict(phases: list[PhaseStats], checks: list[Check]) -> list[str]:
    """Return the targets' verdict lines; the last says whether every target was met."""
    by_name = {phase.name: phase for phase in phases}
    results: list[tuple[bool, str]] = []
    sustained = by_name.get("sustained")
    if sustained is not None:
        form = percentile(sustained.steps["form GET"].latencies_ms, 95)
        submit = percentile(sustained.steps["submit"].latencies_ms, 95)
        failed = sum(step.failures + step.shed for step in sustained.steps.values())
        results += [
            (form < FORM_P95_MS, f"sustained form GET p95 {form:.0f} ms < {FORM_P95_MS:.0f} ms"),
            (submit < SUBMIT_P95_MS, f"sustained submit p95 {submit:.0f} ms < {SUBMIT_P95_MS:.0f} ms"),
            (failed == 0, f"sustained rate held without errors: {failed} errors"),
        ]
    steps = [step for phase in phases for step in phase.steps.values()]
    bare = sum(step.outcomes["429"] + step.outcomes["503"] for step in steps)
    shed_all = sum(step.shed for step in steps)
    results.append((bare == 0, f"every 429/503 carried Retry-After: {shed_all} with, {bare} without"))
    spike = by_name.get("spike")
    if spike is not None:
        failed = sum(step.failures for step in spike.steps.values())
        shed = sum(step.shed for step in spike.steps.values())
        results.append(
            (failed == 0, f"spike errors only 429/503 with Retry-After: {shed} shed, {failed} other errors")
        )
    results += [(check.passed, f"{check.name}: {check.detail}") for check in checks]
    lines = [f"  {_mark(ok)}  {text}" for ok, text in results]
    lines.append(f"  overall: {'every target met' if all(ok for ok, _ in results) else 'TARGETS MISSED'}")
    return lines
