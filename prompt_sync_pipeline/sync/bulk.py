"""The cyclic garbage collector and a run's large, long-lived objects (a configuration of
thousands of composites, the charter, the sync state)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a parse builds tens of thousands of objects.

    They all live for the whole run, so each pass the allocations trigger frees nothing, yet
    walks everything built so far (the README's "Performance, measured"). Reference counting
    still frees as usual.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects alive now (configuration, charter, state) out of the collector's passes
    until the block ends: a run allocates enough to trigger hundreds of passes, each of which
    would walk them all again and free none of them. A process that froze objects itself (or
    another run in it) keeps its freeze: this one leaves it alone."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
