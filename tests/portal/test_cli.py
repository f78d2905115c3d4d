"""The `kuaisu` command: merchants list --json, an idempotent demo, db upgrade."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, func, inspect, select

from portal import create_app
from portal.cli import cli
from portal.db import new_session
from portal.models import Market, Merchant, PosterCode, RegulatorUnit

FIELDS = {"kind", "id", "name", "category", "market_id", "market", "unit_id", "poster_code", "poster_url"}


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        session = new_session()
        counts = {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (RegulatorUnit, Market, Merchant, PosterCode)
        }
        session.close()
    return counts


def test_demo_is_idempotent(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(cli, ["demo"])
    assert first.exit_code == 0, first.output
    counts = _counts(app)
    assert counts == {"RegulatorUnit": 3, "Market": 2, "Merchant": 12, "PosterCode": 14}
    second = runner.invoke(cli, ["demo"])
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.output
    assert _counts(app) == counts
    assert "https://ks.example.cn/c/" in second.output


def test_merchants_list_json_format(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    result = runner.invoke(cli, ["merchants", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    assert all(set(row) == FIELDS for row in rows)
    markets = [row for row in rows if row["kind"] == "market"]
    merchants = [row for row in rows if row["kind"] == "merchant"]
    assert len(markets) == 2 and len(merchants) == 12
    tiles = next(row for row in merchants if row["name"] == "张记瓷砖")
    assert tiles["category"] == "quality"
    assert tiles["market"] == "万博装饰市场"
    assert tiles["market_id"] == next(m["id"] for m in markets if m["name"] == "万博装饰市场")
    assert tiles["poster_url"] == f"https://ks.example.cn/c/{tiles['poster_code']}"
    assert len(tiles["poster_code"]) >= 8
    hotel = next(row for row in merchants if row["name"] == "太行山居酒店")
    assert hotel["market_id"] is None and hotel["market"] is None
    assert isinstance(hotel["unit_id"], int)
    market = markets[0]
    assert market["category"] is None and market["market_id"] == market["id"]
    assert market["poster_url"].endswith(market["poster_code"])


def test_merchants_list_text(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(cli, ["demo"])
    result = runner.invoke(cli, ["merchants", "list"])
    assert result.exit_code == 0
    assert "张记瓷砖" in result.output
    assert result.output.count("https://ks.example.cn/c/") == 14


def test_listed_poster_urls_open_the_form(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(cli, ["demo"])
    rows = json.loads(runner.invoke(cli, ["merchants", "list", "--json"]).output)
    client = app.test_client()
    for row in rows:
        page = client.get(row["poster_url"].removeprefix("https://ks.example.cn"))
        assert page.status_code == 200
        assert row["name"] in page.get_data(as_text=True)


def test_db_upgrade_builds_a_fresh_database(tmp_path: Path, app_config: dict[str, Any]) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = create_app({**app_config, "DATABASE_URL": url})
    result = fresh.test_cli_runner().invoke(cli, ["db", "upgrade"])
    fresh.extensions["kuaisu.engine"].dispose()
    assert result.exit_code == 0, result.output
    assert "head" in result.output
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "complaint",
        "event",
        "attachment",
        "merchant",
        "market",
        "poster_code",
        "regulator_unit",
        "staff_user",
        "alembic_version",
    } <= tables


def test_db_upgrade_on_a_migrated_database_is_a_no_op(app: Flask) -> None:
    result = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
