"""A lock file per running poster job: held while its process lives, freed when it dies."""

from __future__ import annotations

import fcntl
from pathlib import Path
from types import TracebackType

LOCK_DIR = ".locks"


class JobLock:
    """Hold an exclusive flock on BULK_DIR/.locks/TOKEN.lock for the life of a run."""

    def __init__(self, bulk_dir: Path, token: str) -> None:
        """Create the lock file (raising OSError if BULK_DIR is not writable) and take it."""
        path = self.path(bulk_dir, token)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise

    @staticmethod
    def path(bulk_dir: Path, token: str) -> Path:
        """Return the lock file of a job."""
        return bulk_dir / LOCK_DIR / f"{token}.lock"

    @classmethod
    def is_free(cls, bulk_dir: Path, token: str) -> bool:
        """Tell whether no live process holds the job's lock (so the job was interrupted)."""
        path = cls.path(bulk_dir, token)
        try:
            with path.open("r") as handle:
                # The kernel drops a flock when its process dies, however it died.
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True

    def __enter__(self) -> JobLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Release the lock and remove its file."""
        Path(self.handle.name).unlink(missing_ok=True)
        self.handle.close()
