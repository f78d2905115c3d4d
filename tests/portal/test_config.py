"""Configuration: defaults, KUAISU_* environment, and a production start that needs a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from portal.config import ConfigError, load_config


def _app(tmp_path: Path) -> Flask:
    return Flask("kuaisu_config_test", instance_path=str(tmp_path / "instance"))


def test_production_without_secret_key_fails_clearly(tmp_path: Path) -> None:
    app = _app(tmp_path)
    with pytest.raises(ConfigError, match="KUAISU_SECRET_KEY is not set"):
        load_config(app, environ={"KUAISU_ENV_NAME": "production"})
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_production_with_secret_key_starts(tmp_path: Path) -> None:
    app = _app(tmp_path)
    load_config(app, environ={"KUAISU_ENV_NAME": "production", "KUAISU_SECRET_KEY": "s" * 64})
    assert app.config["SECRET_KEY"] == "s" * 64
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_development_key_is_generated_once_under_instance(tmp_path: Path) -> None:
    first, second = _app(tmp_path), _app(tmp_path)
    load_config(first, environ={})
    load_config(second, environ={})
    path = tmp_path / "instance" / "secret_key"
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first.config["SECRET_KEY"]) >= 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == path.read_text().strip()


def test_defaults_live_under_instance(tmp_path: Path) -> None:
    app = _app(tmp_path)
    load_config(app, environ={})
    instance = tmp_path / "instance"
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'kuaisu.db'}"
    assert app.config["UPLOAD_DIR"] == str(instance / "uploads")
    assert app.config["MAX_CONTENT_LENGTH"] > 0
    assert app.config["BABEL_DEFAULT_LOCALE"] == "zh_Hans_CN"


def test_kuaisu_environment_is_read(tmp_path: Path) -> None:
    app = _app(tmp_path)
    load_config(
        app,
        environ={
            "KUAISU_DATABASE_URL": "sqlite:////srv/kuaisu.db",
            "KUAISU_BASE_URL": "https://ks.example.cn",
            "KUAISU_UPLOAD_DIR": "/srv/uploads",
            "KUAISU_SECRET_KEY": "k" * 64,
            "KUAISU_MAX_PHOTOS": "4",
            "KUAISU_RATELIMIT_SUBMIT_PHONE": "3 per hour",
            "OTHER_SECRET_KEY": "ignored",
        },
    )
    assert app.config["DATABASE_URL"] == "sqlite:////srv/kuaisu.db"
    assert app.config["BASE_URL"] == "https://ks.example.cn"
    assert app.config["UPLOAD_DIR"] == "/srv/uploads"
    assert app.config["MAX_PHOTOS"] == 4
    assert app.config["RATELIMIT_SUBMIT_PHONE"] == "3 per hour"
    # An https base URL turns on secure cookies.
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_a_bad_number_in_the_environment_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KUAISU_MAX_CONTENT_LENGTH"):
        load_config(_app(tmp_path), environ={"KUAISU_MAX_CONTENT_LENGTH": "lots"})


def test_test_mapping_wins_over_environment(tmp_path: Path) -> None:
    app = _app(tmp_path)
    load_config(app, {"BASE_URL": "http://test"}, environ={"KUAISU_BASE_URL": "http://env"})
    assert app.config["BASE_URL"] == "http://test"


def test_cookies_are_strict(tmp_path: Path) -> None:
    app = _app(tmp_path)
    load_config(app, environ={})
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # the default base URL is plain http


def test_create_app_in_production_refuses_to_start_without_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from portal import create_app

    monkeypatch.setenv("KUAISU_ENV_NAME", "production")
    monkeypatch.delenv("KUAISU_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="KUAISU_SECRET_KEY"):
        create_app({"DATABASE_URL": "sqlite://"})


def test_signal_thresholds_are_read_from_the_environment_and_checked(tmp_path: Path) -> None:
    from datetime import timedelta

    from portal.signals import SignalPolicy

    app = _app(tmp_path)
    load_config(app, environ={"KUAISU_REPEAT_PHONE_THRESHOLD": "12", "KUAISU_DUPLICATE_WINDOW_DAYS": "3"})
    policy = SignalPolicy.from_config(app.config)
    assert (policy.repeat_threshold, policy.repeat_window, policy.duplicate_window) == (
        12,
        timedelta(days=7),
        timedelta(days=3),
    )
    with pytest.raises(ConfigError, match="KUAISU_REPEAT_PHONE_WINDOW_DAYS must be a whole number"):
        load_config(_app(tmp_path), environ={"KUAISU_REPEAT_PHONE_WINDOW_DAYS": "0"})
