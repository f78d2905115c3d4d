"""The bulk jobs' collector setting is given back, however the jobs end or overlap."""

from __future__ import annotations

import gc
import threading

import pytest

from portal.collector import YOUNG_THRESHOLD, fewer_collections


def test_the_setting_holds_inside_and_is_given_back_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold()[0] >= YOUNG_THRESHOLD and gc.get_freeze_count() > 0
        raise RuntimeError("the batch failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_overlapping_jobs_restore_the_setting_only_when_the_last_ends() -> None:
    before = gc.get_threshold()
    inside, leave = threading.Event(), threading.Event()

    def other_job() -> None:
        with fewer_collections():
            inside.set()
            leave.wait(10)

    with fewer_collections():
        thread = threading.Thread(target=other_job)
        thread.start()
        assert inside.wait(10)
    assert gc.get_threshold()[0] >= YOUNG_THRESHOLD  # the other job still runs
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_heap_the_process_froze_itself_stays_frozen() -> None:
    gc.freeze()  # as wsgi.py does once the app is loaded
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            pass
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
