"""Where photo files live: the local disk by default, behind one small interface."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol


class PhotoStore(Protocol):
    """Store and fetch photo bytes by a server-made key."""

    def put(self, key: str, data: bytes) -> None:
        """Store the bytes durably under the key."""

    def get(self, key: str) -> bytes:
        """Return the bytes stored under the key."""


class LocalStore:
    """Files under a directory outside any static folder, written atomically."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        """Map a key to a path, refusing anything that is not a plain server-made name."""
        if not key.replace("-", "").replace(".", "").isalnum() or key.startswith("."):
            raise ValueError("bad storage key")
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        """Write to a temp file, fsync and rename, so a crash never leaves half a photo."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        """Read the stored bytes."""
        return self._path(key).read_bytes()
