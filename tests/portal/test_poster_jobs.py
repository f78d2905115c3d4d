"""Bulk poster jobs: queued, claimed once, streamed to BULK_DIR with progress, or failed with why."""

from __future__ import annotations

import zipfile
from datetime import timedelta
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import poster_jobs
from portal.cli import cli
from portal.job_lock import JobLock
from portal.models import Market, Merchant, PosterCode, PosterJob, User
from portal.poster_jobs import (
    JobSettings,
    PosterJobError,
    create_job,
    purge_old_results,
    reap_interrupted,
    run_job,
)
from portal.poster_runner import settings_from, work
from portal.posters import BulkScope
from tests.conftest import NOW
from tests.factories import Factory, make_user

BASE = "https://ks.example.cn"


@pytest.fixture
def market(factory: Factory) -> Market:
    """A market with a market poster and twelve shops, one with a 40-character name."""
    market = factory.make_market()
    for number in range(11):
        factory.make_merchant(market, name=f"张记瓷砖{number}号店")
    factory.make_merchant(market, name="长" * 40)
    return market


@pytest.fixture
def regulator(session: Session, market: Market) -> User:
    """A regulator of the market's unit."""
    return make_user(session, "regulator", unit=market.unit)


@pytest.fixture
def settings(tmp_path: Path) -> JobSettings:
    """Run settings writing under the test's BULK_DIR, one core."""
    return JobSettings(bulk_dir=tmp_path / "bulk", base_url=BASE, workers=1)


def queue(session: Session, user: User, market: Market, fmt: str = "pdf", layout: str = "A6") -> PosterJob:
    """Queue a job for the market's posters and commit it."""
    job = create_job(
        session,
        requester_id=user.id,
        scope=BulkScope("market", (market.id,)),
        layout=layout,
        fmt=fmt,
        now=NOW,
    )
    session.commit()
    return job


def reload(session: Session, job: PosterJob) -> PosterJob:
    """Read the job row as committed by the runner."""
    session.rollback()
    session.expire_all()
    fresh = session.get(PosterJob, job.id)
    assert fresh is not None
    return fresh


def pdf_pages(path: Path) -> tuple[int, list[str]]:
    """Return the page count of a PDF and the URL decoded from its last page's QR code."""
    document = pypdfium2.PdfDocument(path)
    try:
        image = document[len(document) - 1].render(scale=1.5).to_pil()
        return len(document), [result.text for result in zxingcpp.read_barcodes(image)]
    finally:
        document.close()


def test_job_is_queued_with_its_count(session: Session, market: Market, regulator: User) -> None:
    job = queue(session, regulator, market)
    assert (job.status, job.total, job.done, len(job.token)) == ("queued", 13, 0, 32)
    for layout, fmt in (("A3", "pdf"), ("A4", "doc")):
        with pytest.raises(PosterJobError):
            create_job(
                session,
                requester_id=regulator.id,
                scope=BulkScope("market", (market.id,)),
                layout=layout,
                fmt=fmt,
                now=NOW,
            )
    with pytest.raises(PosterJobError, match="no posters"):
        create_job(
            session,
            requester_id=regulator.id,
            scope=BulkScope("market", (999,)),
            layout="A4",
            fmt="pdf",
            now=NOW,
        )


def test_run_streams_a_pdf_page_per_poster_and_reports_progress(
    session: Session,
    market: Market,
    regulator: User,
    settings: JobSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = queue(session, regulator, market)
    seen: list[tuple[str, int, int]] = []
    real = poster_jobs._Progress.__call__

    def spy(progress: poster_jobs._Progress, done: int) -> None:
        real(progress, done)
        # What a progress page would read from the database at this moment.
        row = reload(session, job)
        seen.append((row.status, row.done, row.total))

    monkeypatch.setattr(poster_jobs._Progress, "__call__", spy)
    monkeypatch.setattr(poster_jobs.bulk, "PDF_CHUNK", 5)
    assert run_job(job.token, settings) is True

    assert seen == [("running", 5, 13), ("running", 10, 13), ("running", 13, 13)]
    done = reload(session, job)
    assert (done.status, done.done, done.total, done.error) == ("done", 13, 13, None)
    assert done.finished_at is not None and done.result_path == f"{job.token}.pdf"
    pages, urls = pdf_pages(settings.bulk_dir / done.result_path)
    last = session.scalars(
        select(PosterCode.code)
        .join(Merchant, Merchant.id == PosterCode.merchant_id)
        .order_by(Merchant.id.desc())
    ).first()
    assert pages == 13 and urls == [f"{BASE}/c/{last}"]
    assert not list(settings.bulk_dir.glob("*.part"))
    assert run_job(job.token, settings) is False  # a job runs once


def test_progress_writes_are_throttled(session: Session, market: Market, regulator: User) -> None:
    job = queue(session, regulator, market)
    progress = poster_jobs._Progress(job.id, total=1000)
    progress(3)  # below 1% and within 2 s: not written
    assert reload(session, job).done == 0
    progress(10)
    assert reload(session, job).done == 10


def test_zip_of_pngs_is_named_by_shop(
    session: Session, market: Market, regulator: User, settings: JobSettings
) -> None:
    job = queue(session, regulator, market, fmt="zip")
    assert run_job(job.token, settings)
    done = reload(session, job)
    assert done.status == "done" and done.result_path is not None
    with zipfile.ZipFile(settings.bulk_dir / done.result_path) as archive:
        names = archive.namelist()
    assert len(names) == 13 and names[0] == "0001_万博装饰市场.png"
    assert names[1] == "0002_张记瓷砖0号店.png"


def test_missing_font_fails_the_job_and_names_the_package(
    session: Session,
    market: Market,
    regulator: User,
    settings: JobSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUAISU_CJK_FONT", "/nonexistent/font.ttc")
    job = queue(session, regulator, market)
    assert run_job(job.token, settings)
    failed = reload(session, job)
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.error is not None and failed.error.startswith("font: ")
    assert "fonts-wqy-microhei" in failed.error
    assert not list(settings.bulk_dir.glob(f"{job.token}*"))


def test_unwritable_bulk_dir_fails_the_job_with_the_reason(
    session: Session, market: Market, regulator: User, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where BULK_DIR's parent should be")
    job = queue(session, regulator, market)
    assert run_job(job.token, JobSettings(bulk_dir=blocker / "bulk", base_url=BASE))
    failed = reload(session, job)
    assert failed.status == "failed"
    assert failed.error == "storage: Not a directory"
    assert str(tmp_path) not in failed.error  # no server paths for the user


def test_run_limit_leaves_a_job_queued_and_work_drains_it_later(
    session: Session, market: Market, regulator: User, settings: JobSettings
) -> None:
    first, second = queue(session, regulator, market), queue(session, regulator, market)
    # The first job is running in another process, which holds its lock.
    session.execute(PosterJob.__table__.update().where(PosterJob.id == first.id).values(status="running"))
    session.commit()
    with JobLock(settings.bulk_dir, first.token):
        one_at_a_time = JobSettings(settings.bulk_dir, BASE, workers=1, max_running=1)
        assert run_job(second.token, one_at_a_time) is False
        assert reload(session, second).status == "queued"
        assert reap_interrupted(session, settings.bulk_dir, NOW) == 0
    # Its process died: the lock is free, so the job is failed and the queue moves on.
    assert work(one_at_a_time, clock=lambda: NOW) == 1
    assert reload(session, first).status == "failed" and reload(session, first).error == "interrupted"
    assert reload(session, second).status == "done"


def test_old_results_expire(session: Session, market: Market, regulator: User, settings: JobSettings) -> None:
    job = queue(session, regulator, market)
    run_job(job.token, settings, clock=lambda: NOW)
    path = settings.bulk_dir / f"{job.token}.pdf"
    assert path.exists()
    assert purge_old_results(session, settings.bulk_dir, NOW + timedelta(days=6)) == 0
    assert purge_old_results(session, settings.bulk_dir, NOW + timedelta(days=8)) == 1
    session.commit()
    assert reload(session, job).status == "expired" and not path.exists()


def test_settings_come_from_config(app: Flask) -> None:
    assert settings_from(app.config).workers == 1  # web-started runs use one core by default
    assert settings_from({**app.config, "POSTER_WORKERS": "2"}).workers == 2


def test_cli_prints_a_market_as_pdf_and_zip(app: Flask, market: Market, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    out = tmp_path / "posters.pdf"
    result = runner.invoke(
        cli, ["posters", str(out), "--market", str(market.id), "--layout", "A5", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("13 posters (A5) written to")
    assert pdf_pages(out)[0] == 13
    archive = tmp_path / "posters.zip"
    result = runner.invoke(cli, ["posters", str(archive), "--unit", str(market.unit_id)])
    assert result.exit_code == 0, result.output
    assert len(zipfile.ZipFile(archive).namelist()) == 13
    assert runner.invoke(cli, ["posters", str(tmp_path / "x.doc"), "--all"]).exit_code == 2
    assert runner.invoke(cli, ["posters", str(out)]).exit_code == 2  # no scope given
    assert "no market with id" in runner.invoke(cli, ["posters", str(out), "--market", "999"]).output


def test_cli_revokes_a_code_and_prints_the_new_one(app: Flask, session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    old = factory.poster_of(merchant).code
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["merchants", "revoke", old, "--reason", "海报被复制"])
    assert result.exit_code == 0, result.output
    session.rollback()
    fresh = factory.poster_of(merchant).code
    assert fresh != old and f"new code {fresh} {BASE}/c/{fresh}" in result.output
    again = runner.invoke(cli, ["merchants", "revoke", old, "--reason", "x"])
    assert again.exit_code == 1 and "already revoked" in again.output
    assert runner.invoke(cli, ["merchants", "revoke", old]).exit_code == 2  # a reason is required


def test_cli_work_runs_queued_jobs(app: Flask, session: Session, market: Market, regulator: User) -> None:
    job = queue(session, regulator, market)
    result = app.test_cli_runner().invoke(cli, ["posters", "work"])
    assert result.exit_code == 0 and "1 poster job(s) run" in result.output
    assert reload(session, job).status == "done"
