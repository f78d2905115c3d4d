"""Photo stores: the local disk and S3-compatible storage (a real moto server on 127.0.0.1)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.storage import LocalStore, S3Store, store_from_config


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """Run moto's S3 server as a separate process on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    moto = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    drain: threading.Thread | None = None
    try:
        # Block on the server's own start-up line instead of sleeping and polling.
        assert proc.stderr is not None
        for line in proc.stderr:
            if "Running on" in line:
                break
        else:
            raise RuntimeError("moto_server exited before listening")
        # Keep draining its request log so the pipe never fills and blocks the server.
        drain = threading.Thread(target=proc.stderr.read, daemon=True)
        drain.start()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if drain is not None:
            drain.join(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_local_store_round_trip_and_refuses_bad_keys(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("ab12cd.jpg", b"jpeg-bytes")
    assert store.get("ab12cd.jpg") == b"jpeg-bytes"
    assert not list(tmp_path.rglob("*.part"))
    store.delete("ab12cd.jpg")
    store.delete("ab12cd.jpg")  # gone already: not an error
    assert not list(tmp_path.rglob("ab12cd.jpg"))
    for bad in ("../../etc/passwd", "a/b.jpg", ".hidden", "发票.jpg"):
        with pytest.raises(ValueError):
            store.put(bad, b"x")


def test_s3_store_round_trip(s3_endpoint: str, s3_env: None) -> None:
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket="kuaisu-photos"
    )
    store = store_from_config({"STORAGE": "s3", "S3_BUCKET": "kuaisu-photos",
                               "S3_ENDPOINT_URL": s3_endpoint, "UPLOAD_DIR": "/unused"})
    assert isinstance(store, S3Store)
    store.put("0123abcd.jpg", b"\xff\xd8photo")
    assert store.get("0123abcd.jpg") == b"\xff\xd8photo"
    store.delete("0123abcd.jpg")
    store.delete("0123abcd.jpg")
    with pytest.raises(OSError):
        store.get("0123abcd.jpg")
    with pytest.raises(ValueError):
        store.put("../x.jpg", b"x")


def test_store_config_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="S3_BUCKET"):
        store_from_config({"STORAGE": "s3"})
    with pytest.raises(ValueError, match="local or s3"):
        store_from_config({"STORAGE": "ftp"})
    assert isinstance(store_from_config({"UPLOAD_DIR": str(tmp_path)}), LocalStore)
