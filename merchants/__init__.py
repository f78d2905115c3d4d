"""The back office: merchant staff, the rights station and the regulator at work."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Attach the back-office blueprints to the app."""
