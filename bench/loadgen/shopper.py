"""A virtual shopper: open the poster page, send a complaint (maybe with photos), open the receipt."""

from __future__ import annotations

import asyncio
import random
import re
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass, field

from bench.loadgen.http import CSRF, IDEM, Browser, Reply, Upload, hidden, multipart
from bench.loadgen.schedule import Visit
from bench.loadgen.stats import (
    ACKNOWLEDGED,
    FAILED,
    SHED,
    SHED_AT_FORM,
    SHED_AT_SUBMIT,
    PhaseStats,
    Step,
    outcome,
)

CASE_NUMBER = re.compile(rb"KS\d{8}-\d{4,}")
DESCRIPTIONS = (
    "买的瓷砖有裂纹，商家拒绝退换，态度很差。",
    "水果缺斤短两，称重时明显不对，要求退差价。",
    "药品临近过期却没有提示，要求退货并说明情况。",
)


@dataclass
class Ledger:
    """What the clients were told: receipts acknowledged, case numbers shown, photos sent."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # form key -> receipt token
    case_numbers: dict[str, str] = field(default_factory=dict)  # receipt token -> number on the page
    photos_sent: dict[str, int] = field(default_factory=dict)  # receipt token -> photos attached
    gave_up: list[str] = field(default_factory=list)  # form keys never acknowledged
    retried: int = 0


@dataclass(frozen=True)
class ShopperPlan:
    """How every virtual shopper behaves."""

    port: int
    poster_paths: list[str]
    photos: list[Upload]
    timeout: float = 30.0
    retries: int = 2
    retry_cap: float = 5.0


async def attempt(step: Step, started: float, request: Awaitable[Reply], timeout: float) -> Reply | None:
    """Await one request, tally it against the step, and return it (None when it failed to arrive)."""
    loop = asyncio.get_running_loop()
    try:
        reply = await asyncio.wait_for(request, timeout)
    except TimeoutError:
        step.record("timeout", loop.time() - started)
        return None
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        step.record(f"connection: {type(exc).__name__}", loop.time() - started)
        return None
    step.record(outcome(reply.status, reply.headers), loop.time() - started)
    return reply


def _form(csrf: str, idem: str, rng: random.Random) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "idem": idem,
        "kind": "complaint",
        "category": "quality",
        "description": rng.choice(DESCRIPTIONS),
        "amount": f"{rng.randrange(10, 2000)}.50",
        "wish": "refund",
        # A phone of its own per shopper: the tight per-phone limit stays as configured.
        "phone": f"139{rng.randrange(10**8):08d}",
        "name": "李女士",
        "consent": "y",
        "website": "",
    }


class Shoppers:
    """Runs virtual shoppers against one server and keeps the ledger of what they were told."""

    def __init__(self, plan: ShopperPlan, ledger: Ledger) -> None:
        self.plan = plan
        self.ledger = ledger

    def visit(self, photo_count: tuple[int, int]) -> Visit:
        """Return a visit that attaches between photo_count[0] and photo_count[1] photos."""

        async def run(stats: PhaseStats, due: float) -> None:
            await self._visit(stats, due, random.randint(*photo_count))

        return run

    async def _visit(self, stats: PhaseStats, due: float, photos: int) -> None:
        browser = Browser(self.plan.port)
        try:
            stats.shoppers[await self._shop(stats, browser, due, photos)] += 1
        finally:
            browser.close()

    async def _shop(self, stats: PhaseStats, browser: Browser, due: float, photos: int) -> str:
        """Go through form, submit and receipt; return how the visit ended (one of FATES)."""
        plan, rng = self.plan, random.Random(secrets.randbits(32))
        path = rng.choice(plan.poster_paths)
        form = await attempt(stats.steps["form GET"], due, browser.request("GET", path), plan.timeout)
        if form is None or form.status != 200:
            return SHED_AT_FORM if form is not None and outcome(form.status, form.headers) in SHED else FAILED
        csrf, idem = hidden(CSRF, form.body), hidden(IDEM, form.body)
        if csrf is None or idem is None:
            stats.steps["form GET"].count("200 without the form")
            return FAILED
        chosen = rng.sample(plan.photos, photos) if photos else []
        body, content_type = multipart(_form(csrf, idem, rng), chosen)
        token, last = await self._submit(stats, browser, path, body, content_type, idem)
        if token is None:
            return SHED_AT_SUBMIT if last in SHED else FAILED
        self.ledger.photos_sent[token] = photos
        await self._receipt(stats, browser, token)
        return ACKNOWLEDGED

    async def _submit(
        self, stats: PhaseStats, browser: Browser, path: str, body: bytes, content_type: str, idem: str
    ) -> tuple[str | None, str | None]:
        """Post the form; like a shopper on the retry page, send the very same form again.

        Return the receipt token (None when never acknowledged) and the last answer's outcome.
        """
        loop, plan = asyncio.get_running_loop(), self.plan
        headers = {"Content-Type": content_type}
        last: str | None = None
        for number in range(plan.retries + 1):
            if number:
                self.ledger.retried += 1
            reply = await attempt(
                stats.steps["submit"], loop.time(), browser.request("POST", path, headers, body), plan.timeout
            )
            last = None if reply is None else outcome(reply.status, reply.headers)
            if reply is not None and reply.status == 303:
                token = reply.headers.get("location", "").split("/t/", 1)[-1].split("?", 1)[0]
                self.ledger.acknowledged[idem] = token
                return token, last
            if reply is not None and reply.status not in (429, 500, 502, 503, 504):
                break  # refused for a reason sending again will not change
            if reply is None:
                browser.close()
            wait = reply.headers.get("retry-after", "1") if reply is not None else "1"
            await asyncio.sleep(min(float(wait) if wait.isdigit() else 1.0, plan.retry_cap))
        self.ledger.gave_up.append(idem)
        return None, last

    async def _receipt(self, stats: PhaseStats, browser: Browser, token: str) -> None:
        loop = asyncio.get_running_loop()
        step = stats.steps["receipt GET"]
        reply = await attempt(
            step, loop.time(), browser.request("GET", f"/t/{token}?new=1"), self.plan.timeout
        )
        if reply is None or reply.status != 200:
            return
        found = CASE_NUMBER.search(reply.body)
        if found is None:
            step.count("200 without a case number")
            return
        self.ledger.case_numbers[token] = found.group().decode()
