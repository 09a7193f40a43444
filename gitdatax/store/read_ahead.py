"""Work on a stream of items done a few items ahead on two threads, handed back in order.

Reading chunks back (chunked.py) and checking chunks received from another store
(chunk_exchange.py) both spend their time in pread, zstd and SHA-256, which release the GIL:
two threads keep both cores busy while the caller writes the last result out.
"""
from __future__ import annotations

import itertools
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(work: Callable[[Item], Result], items: Iterable[Item], ahead: int, name: str) -> Iterator[Result]:
    """`work(item)` for each of `items`, in their order, up to `ahead` of them in progress at a
    time; items are taken from `items` on the caller's thread. An exception of `work` is raised
    when its result's turn comes; what is still queued then, or when the caller stops early,
    is cancelled."""
    from concurrent.futures import ThreadPoolExecutor

    items = iter(items)
    with ThreadPoolExecutor(2, thread_name_prefix=name) as workers:
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
