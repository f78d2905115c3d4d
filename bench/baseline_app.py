"""The bare baseline beside the shopper bench: one template route, one insert route.

Same Flask, same SQLAlchemy, same SQLite pragmas (WAL, synchronous=FULL, busy timeout,
BEGIN IMMEDIATE for the write) as Kuaisu, and nothing else: no Babel, no CSRF, no limiter.
Run with `gunicorn bench.baseline_app:app` and BASELINE_DATABASE_URL set.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, redirect, render_template
from jinja2 import DictLoader
from sqlalchemy import DateTime, Integer, String, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from werkzeug.wrappers import Response

from portal.db import make_engine

SMALL = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>
</head><body><h1>{{ title }}</h1><ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul>
</body></html>"""


class Base(DeclarativeBase):
    """Declarative base of the baseline's one table."""


class Row(Base):
    """One inserted row, about the size of a complaint's text."""

    __tablename__ = "row"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime)


def create_schema(url: str) -> None:
    """Create the baseline's table once, before the workers start (they would race)."""
    engine = make_engine(url, pooled=False)
    Base.metadata.create_all(engine)
    engine.dispose()


def create_app() -> Flask:
    """Build the baseline app on BASELINE_DATABASE_URL (its table already created)."""
    app = Flask(__name__)
    app.jinja_loader = DictLoader({"small.html": SMALL})
    engine = make_engine(os.environ["BASELINE_DATABASE_URL"])

    @app.get("/tpl")
    def template() -> str:
        return render_template("small.html", title="快诉", items=["45 分钟内回复", "90 分钟内到场"])

    @app.post("/insert")
    def insert_row() -> Response:
        with Session(engine) as session:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            session.execute(
                insert(Row).values(
                    body="瓷砖有裂纹，商家拒绝退换。" * 4, created_at=datetime.now(UTC).replace(tzinfo=None)
                )
            )
            session.commit()
        return redirect("/tpl", code=303)

    return app


app = create_app() if "BASELINE_DATABASE_URL" in os.environ else None
