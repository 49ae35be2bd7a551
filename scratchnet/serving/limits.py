"""What keeps the service up under load: a bounded number of pictures read at once, a bounded wait
for a turn, deadlines on uploads and readings, and memory handed back to the system afterwards.

Each worker process admits requests through two gates, judged from the picture's header before it
is decoded (scratchnet.vision.images.reading_cost): big pictures (more than SMALL_COST to read) take
one of `big_slots` turns, small ones (a drawing from the page, a photo of modest size) one of
`small_slots`, so a burst of huge pictures cannot keep a small request waiting. A request that gets
no turn within `queue_wait` seconds, or finds `max_waiting` requests already waiting, is answered
503 with Retry-After. Memory per reading is bounded by DECODE_BUDGET (+ WORK_BYTES), so beyond its
idle size a worker holds at most big_slots * (DECODE_BUDGET + WORK_BYTES) for big pictures,
small_slots * (SMALL_COST + WORK_BYTES) for small ones, and the bodies of the requests in flight or
waiting (each at most MAX_BODY, 10 MiB; 2 * max_waiting of them wait at most): about 1 GiB with
the defaults. Bodies still uploading are bounded by the proxy in front (docs/predict-and-serve.md).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import json
import os
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

LIMITS_ENV = "SCRATCHNET_SERVE_LIMITS"  # how `--workers N` hands the limits to each worker (JSON)
SMALL_COST = 16 * 2**20  # bytes to read: a 4-megapixel photo or the page's drawing is small


@dataclass(frozen=True)
class Limits:
    """Per worker process. The defaults are sized for a 2-core machine (bench/serve.py, docs/predict-and-serve.md)."""

    big_slots: int = 1  # big pictures read at once. Reading is CPU-bound: with a worker per core, a second turn
    #                     answers more big pictures during an attack but slows the normal requests beside them
    #                     and holds a second reading's memory (bench/RESULTS.md, "Service under hostile load")
    small_slots: int = 4  # small pictures read at once
    max_waiting: int = 32  # requests waiting for a turn, beyond which a request is turned away at once
    queue_wait: float = 10.0  # seconds a request may wait for a turn
    upload_timeout: float = 30.0  # seconds to receive a whole body
    read_timeout: float = 10.0  # seconds to read one picture, checked between its steps

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Limits:
        return cls(**json.loads(os.environ[LIMITS_ENV])) if os.environ.get(LIMITS_ENV) else cls()


class Busy(Exception):
    """No turn for this request: the app answers 503 with Retry-After."""

    def __init__(self, why: str, retry_after: float):
        super().__init__(f"busy, try again in a few seconds ({why})")
        self.retry_after = max(1, round(retry_after))


class Gate:
    """At most `slots` holders at once; at most `max_waiting` waiting, each for at most `wait` seconds."""

    def __init__(self, slots: int, max_waiting: int, wait: float):
        self.slots, self.max_waiting, self.wait = slots, max_waiting, wait
        self._free = asyncio.Semaphore(slots)
        self.waiting = self.holding = 0

    @asynccontextmanager
    async def turn(self):
        if self.waiting >= self.max_waiting:
            raise Busy(f"{self.waiting} requests already waiting", self.wait)
        self.waiting += 1
        try:
            await asyncio.wait_for(self._free.acquire(), self.wait)
        except TimeoutError:
            raise Busy(f"no turn within {self.wait:g} s", self.wait) from None
        finally:
            self.waiting -= 1
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
            self._free.release()


@functools.cache
def _libc():
    """glibc, or None elsewhere (macOS, musl): memory tuning is then left to the system."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (glibc malloc.h)


def hand_memory_back_promptly() -> None:
    """Once per worker: blocks of 1 MiB and more (a decoded picture, its bands) are mapped apart and
    unmapped when freed, instead of glibc's default, which raises that threshold as big blocks are
    freed and then keeps them in the heap."""
    if (libc := _libc()) is not None:
        libc.mallopt(M_MMAP_THRESHOLD, 2**20)
        libc.mallopt(M_TRIM_THRESHOLD, 8 * 2**20)


def trim() -> None:
    """Return the heap's free pages to the system (after a burst of big pictures ends)."""
    if (libc := _libc()) is not None:
        libc.malloc_trim(0)
