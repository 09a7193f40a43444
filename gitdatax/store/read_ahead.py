"""Work on a stream of items done a few items ahead on two threads, handed back in order.

Reading chunks back (chunked.py) and checking chunks received from another store
(chunk_exchange.py) both spend their time in pread, zstd and SHA-256, which release the GIL:
two threads keep both cores busy while the caller writes the last result out.
"""
from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

if TYPE_CHECKING:  # concurrent.futures imports logging: not on the filter's start-up
    from concurrent.futures import Executor

Item = TypeVar("Item")
Result = TypeVar("Result")
SHARED_THREADS = max(2, os.cpu_count() or 2)
_shared: dict[str, Executor] = {}
_shared_lock = threading.Lock()


def in_order(work: Callable[[Item], Result], items: Iterable[Item], ahead: int, name: str,
             workers: Executor | None = None) -> Iterator[Result]:
    """`work(item)` for each of `items`, in their order, up to `ahead` of them in progress at a
    time, on two threads of its own (or on `workers`, shared with other callers); items are
    taken from `items` on the caller's thread. An exception of `work` is raised when its
    result's turn comes; what is still queued then, or when the caller stops early, is
    cancelled."""
    from concurrent.futures import ThreadPoolExecutor

    if workers is not None:
        yield from _in_order(work, iter(items), ahead, workers)
        return
    with ThreadPoolExecutor(2, thread_name_prefix=name) as own:
        yield from _in_order(work, iter(items), ahead, own)


def shared_workers(name: str) -> Executor:
    """The threads every caller of this process naming them `name` shares, one per core (two
    at least): several files received at once (a clone's downloads, a server's uploads) share
    them, rather than each bringing two threads of its own (`git datax fetch` of the standard
    workload on two cores: 1.19 s so, 1.09 s shared)."""
    from concurrent.futures import ThreadPoolExecutor

    with _shared_lock:
        pool = _shared.get(name)
        if pool is None:
            pool = _shared[name] = ThreadPoolExecutor(SHARED_THREADS, thread_name_prefix=name)
        return pool


def _in_order(work: Callable[[Item], Result], items: Iterator[Item], ahead: int, workers: Executor) -> Iterator[Result]:
    window = deque(workers.submit(work, item) for item in itertools.islice(items, ahead))
    try:
        while window:
            done = window.popleft().result()
            nxt = next(items, None)
            if nxt is not None:
                window.append(workers.submit(work, nxt))
            yield done
    finally:
        for future in window:
            future.cancel()
