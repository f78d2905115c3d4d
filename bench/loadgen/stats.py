"""Per phase and step: latencies, outcomes by status, and which errors the targets allow."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# The targets let a spike shed load only by saying when to come back.
SHED = ("429+Retry-After", "503+Retry-After")


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank) of values, NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q / 100 * len(ordered) + 0.5) - 1))]


def outcome(status: int, headers: dict[str, str]) -> str:
    """Name a response for the tally: its status, marked when a 429/503 carries Retry-After."""
    if status in (429, 503) and headers.get("retry-after", "").strip():
        return f"{status}+Retry-After"
    return str(status)


@dataclass
class Step:
    """One step of one phase: every attempt's latency and outcome."""

    ok: str
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def record(self, result: str, latency_s: float) -> None:
        """Count one attempt; failed attempts keep their latency too, so they cannot flatter p99."""
        self.outcomes[result] += 1
        self.latencies_ms.append(latency_s * 1000)

    def count(self, result: str) -> None:
        """Count an attempt that was never sent (no latency to speak of); it is a failure."""
        self.outcomes[result] += 1

    @property
    def answered_ok(self) -> int:
        """Attempts that got the step's expected status."""
        return self.outcomes[self.ok]

    @property
    def shed(self) -> int:
        """429/503 answers carrying Retry-After."""
        return sum(self.outcomes[name] for name in SHED)

    @property
    def failures(self) -> int:
        """Every other error: other statuses, timeouts, refused or reset connections."""
        return sum(self.outcomes.values()) - self.answered_ok - self.shed

    def errors_text(self) -> str:
        """List the outcomes other than the expected one, e.g. '503+Retry-After x3, timeout x1'."""
        found = [(name, n) for name, n in sorted(self.outcomes.items()) if name != self.ok]
        return ", ".join(f"{name} x{n}" for name, n in found) or "-"


ACKNOWLEDGED, SHED_AT_FORM, SHED_AT_SUBMIT, FAILED = (
    "acknowledged",
    "turned away at the form (Retry-After)",
    "turned away at submit after retries (Retry-After)",
    "failed otherwise",
)
FATES = (ACKNOWLEDGED, SHED_AT_FORM, SHED_AT_SUBMIT, FAILED)


STEPS = {"form GET": "200", "submit": "303", "receipt GET": "200", "board poll": "200"}


@dataclass
class PhaseStats:
    """What one phase (sustained or spike) measured, step by step."""

    name: str
    seconds: float
    steps: dict[str, Step] = field(default_factory=lambda: {name: Step(ok) for name, ok in STEPS.items()})
    arrivals: Counter[str] = field(default_factory=Counter)
    # How each shopper's visit ended: one of FATES.
    shoppers: Counter[str] = field(default_factory=Counter)
    launch_lag_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = float("nan")
    client_cpu_s: float = float("nan")
    proxy_cpu_s: float = float("nan")

    def throughput(self, step: str) -> float:
        """Expected answers per second of the phase's length."""
        return self.steps[step].answered_ok / self.seconds if self.seconds else 0.0

    def shoppers_arrived(self) -> int:
        """Shoppers launched in this phase (both shopper streams)."""
        return sum(n for name, n in self.arrivals.items() if name.startswith("shoppers"))


@dataclass
class RunStats:
    """The phases, and the CPU the server and this client used from the first arrival to the drain."""

    phases: list[PhaseStats]
    server_cpu_s: float = float("nan")
    client_cpu_s: float = float("nan")
    wall_s: float = float("nan")
    proxy_cpu_s: float = float("nan")

    def server_ms_per_shopper(self) -> float:
        """Server CPU per acknowledged shopper, board polls included: what bounds the rate on N cores."""
        acked = sum(phase.steps["submit"].answered_ok for phase in self.phases)
        return self.server_cpu_s * 1000 / acked if acked else float("nan")
