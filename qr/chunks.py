"""Render posters chunk by chunk, in worker processes when there is more than one chunk."""

import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from qr.fonts import FontRef
from qr.layout import Layout, PosterInfo

Result = TypeVar("Result")
Chunk = list[PosterInfo]
Renderer = Callable[[Chunk, Layout, FontRef], Result]

# Chunks queued per worker: enough to keep every core busy, few enough that memory
# stays flat however slowly the caller consumes the output.
_QUEUED_PER_WORKER = 2
# Imported once in the fork server, reportlab and Pillow with it, so workers start warm.
_PRELOAD = ["qr.bulk"]


def render_chunks(
    render: "Renderer[Result]",
    posters: Iterable[PosterInfo],
    layout: Layout,
    font: FontRef,
    chunk_size: int,
    workers: int | None = None,
    pool_from: int = 2,
) -> Generator[tuple[Chunk, Result], None, None]:
    """Yield each chunk of posters with its rendering, in input order.

    A process pool starts only when at least pool_from chunks are waiting: for a small
    job, starting worker processes costs more time than it saves.
    """
    chunks = batched(posters, chunk_size)
    head = list(itertools.islice(chunks, pool_from))
    count = default_workers() if workers is None else workers
    if len(head) < pool_from or count <= 1:
        for chunk in itertools.chain(head, chunks):
            yield chunk, render(chunk, layout, font)
        return
    yield from _pooled(render, itertools.chain(head, chunks), layout, font, count)


def default_workers() -> int:
    """Return the number of CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def batched(posters: Iterable[PosterInfo], size: int) -> Iterator[Chunk]:
    """Yield lists of up to size posters, reading the input lazily."""
    iterator = iter(posters)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _pooled(
    render: "Renderer[Result]",
    chunks: Iterator[Chunk],
    layout: Layout,
    font: FontRef,
    workers: int,
) -> Iterator[tuple[Chunk, Result]]:
    """Render chunks in a process pool, never more than a few ahead of the consumer."""
    pending: deque[tuple[Chunk, Future[Result]]] = deque()
    pool = ProcessPoolExecutor(workers, mp_context=_context())
    try:
        for chunk in chunks:
            pending.append((chunk, pool.submit(render, chunk, layout, font)))
            if len(pending) >= workers * _QUEUED_PER_WORKER:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _context() -> multiprocessing.context.BaseContext:
    """Return a start method that is safe in a threaded web server."""
    # fork() copies a multi-threaded parent with its locks held; the fork server does not.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")
