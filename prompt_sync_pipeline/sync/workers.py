"""The bounded pool a run's steps spread their per-prompt work over."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Progress = Callable[[str, int, int], None]
T = TypeVar("T")
R = TypeVar("R")


class Workers:
    """Runs work over items on at most ``max_workers`` threads, reporting progress."""

    def __init__(self, max_workers: int, progress: Progress | None = None) -> None:
        self.max_workers = max_workers
        self._progress = progress

    def map(
        self,
        label: str,
        items: list[T],
        work: Callable[[T], R],
        *,
        inline: Callable[[T], bool] | None = None,
    ) -> list[R]:
        """``work`` over ``items``, results in order; reports progress as items finish.

        Items ``inline`` says need no request (the state settles them) run on this thread:
        pure-Python work spread over many threads only queues for the GIL (measured in the
        README's "Performance, measured").
        """
        if not items:
            return []
        results: dict[int, R] = {}
        pooled = []
        for index, item in enumerate(items):
            if inline is not None and inline(item):
                results[index] = work(item)
            else:
                pooled.append(index)
        done = len(items) - len(pooled)
        if self._progress and done:
            self._progress(label, done, len(items))
        if pooled:
            workers = min(self.max_workers, len(pooled))
            # A few lanes of many items each: a future per item costs more than most items'
            # work (a prompt the state says is unchanged needs no request). Striding spreads
            # the items that do need requests, often neighbours in the table, over every worker.
            lanes = min(len(pooled), workers * 4)
            stop = threading.Event()

            def run_lane(lane: int) -> list[R]:
                finished: list[R] = []
                for index in pooled[lane::lanes]:
                    if stop.is_set():
                        break
                    finished.append(work(items[index]))
                return finished

            pool = ThreadPoolExecutor(workers, thread_name_prefix="prompt-sync")
            try:
                futures = [pool.submit(run_lane, lane) for lane in range(lanes)]
                for lane, future in enumerate(futures):
                    finished = future.result()
                    for index, result in zip(pooled[lane::lanes], finished, strict=True):
                        results[index] = result
                    done += len(finished)
                    if self._progress:
                        self._progress(label, done, len(items))
            except BaseException as exc:
                # Ctrl-C or an error: the workers stop after the item in hand instead of going
                # through their lanes. Interrupted, nobody waits for a request in flight.
                stop.set()
                pool.shutdown(wait=not isinstance(exc, KeyboardInterrupt), cancel_futures=True)
                raise
            pool.shutdown()
        return [results[index] for index in range(len(items))]
