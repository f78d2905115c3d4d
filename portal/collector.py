"""Fewer garbage collections while a bulk job (the clock sweep) allocates millions of objects.

CPython's collector runs a young collection every 700 net allocations of container objects,
and now and then a full one that walks every object in the process: the app, the models'
mappers, the translation catalogues. A 10,000-clock sweep spent about a tenth of its time
there (bench/sweep.py: 0.6 s of CPU, four full collections), finding next to nothing: the
batch's rows are freed by reference counting. Within `fewer_collections()` the objects that
existed before it are left out of the collector's walks (gc.freeze) and young collections
come every 10,000 allocations; both are given back when the outermost job ends. A process
that had frozen its heap itself (wsgi.py does) keeps it frozen: gc cannot thaw only part.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000
_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] = gc.get_threshold()
_was_frozen = False


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage rarely inside the block; nested or concurrent blocks share one setting."""
    global _depth, _saved, _was_frozen
    with _lock:
        if _depth == 0:
            _saved, _was_frozen = gc.get_threshold(), gc.get_freeze_count() > 0
            gc.freeze()
            gc.set_threshold(max(YOUNG_THRESHOLD, _saved[0]), _saved[1], _saved[2])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
                if not _was_frozen:
                    gc.unfreeze()
