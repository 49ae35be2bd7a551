"""`scratchnet serve` in a subprocess, and a hostile burst against it: shared by the load test
(tests/test_serve_load.py) and the benchmark (bench/serve.py). Memory is read from /proc (Linux)."""

from __future__ import annotations

import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


def big_digit_png(size=(6000, 4000)) -> bytes:
    """A drawn 0 filling a `size` RGB page, as PNG: small to send (it compresses well), 24 megapixels to read."""
    from PIL import Image, ImageDraw

    w, h = size
    page = Image.new("RGB", size, "white")
    ImageDraw.Draw(page).ellipse((w * 0.38, h * 0.15, w * 0.62, h * 0.85), outline="black", width=max(w, h) // 40)
    buf = io.BytesIO()
    page.save(buf, "PNG")
    return buf.getvalue()


def small_digit_png() -> bytes:
    return big_digit_png((280, 280))


@contextmanager
def serving(model: Path | str, *options: str):
    """(the server process, its port) for `scratchnet serve --model MODEL OPTIONS`, until the block ends."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(BIN / "scratchnet"), "serve", "--model", str(model), "--port", str(port), *options],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {proc.stderr.read()[-2000:]}")
            try:
                if request(port, "GET", "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not answer /health within 60 s")
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def request(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 120) -> tuple[int, dict]:
    """(status, headers) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "image/png"} if body is not None else {})
        res = conn.getresponse()
        res.read()
        return res.status, dict(res.getheaders())
    finally:
        conn.close()


def workers(pid: int) -> list[int]:
    """The server's worker processes: its children (uvicorn spawns one per worker), or itself alone."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    spawned = [k for k in kids if "spawn_main" in Path(f"/proc/{k}/cmdline").read_text()]  # not the resource tracker
    return spawned or [pid]


def status_mib(pid: int, key: str) -> float:
    """VmRSS (now) or VmHWM (high-water mark) of one process, in MiB."""
    return next(int(line.split()[1]) / 1024 for line in open(f"/proc/{pid}/status") if line.startswith(key + ":"))


def hostile_burst(port: int, big: bytes, count: int, small: bytes | list[bytes], *, small_every: float = 0.5,
                  small_clients: int = 1) -> dict:
    """`count` concurrent POSTs of `big`; meanwhile `small_clients` clients each POST a small picture
    (in turn from `small`) every `small_every` seconds, and /health is asked every 0.2 s. Returns the
    big requests' statuses and latencies, the small ones' statuses and latencies (status 200 only),
    and /health's slowest answer and failures."""
    smalls_in_turn = small if isinstance(small, list) else [small]
    statuses, latencies, small_statuses, small_latencies, health = [], [], [], [], []
    done = threading.Event()

    def big_one():
        t = time.perf_counter()
        try:
            statuses.append(request(port, "POST", "/predict", big)[0])
        except OSError as e:
            statuses.append(type(e).__name__)
        latencies.append(time.perf_counter() - t)

    def smalls():
        i = 0
        while not done.is_set():
            t = time.perf_counter()
            i += 1
            try:
                s = request(port, "POST", "/predict", smalls_in_turn[i % len(smalls_in_turn)], timeout=30)[0]
            except OSError as e:
                s = type(e).__name__
            small_statuses.append(s)
            if s == 200:
                small_latencies.append(time.perf_counter() - t)
            done.wait(small_every)

    def healths():
        while not done.is_set():
            t = time.perf_counter()
            try:
                ok = request(port, "GET", "/health", timeout=5)[0] == 200
            except OSError:
                ok = False
            health.append((ok, time.perf_counter() - t))
            done.wait(0.2)

    side = [threading.Thread(target=healths), *(threading.Thread(target=smalls) for _ in range(small_clients))]
    for t in side:
        t.start()
    time.sleep(0.3)
    start = time.perf_counter()
    crowd = [threading.Thread(target=big_one) for _ in range(count)]
    for t in crowd:
        t.start()
    for t in crowd:
        t.join()
    seconds = time.perf_counter() - start
    done.set()
    for t in side:
        t.join()
    return {"statuses": statuses, "latencies": latencies, "seconds": seconds, "small_statuses": small_statuses,
            "small_latencies": small_latencies, "health_failures": sum(not ok for ok, _ in health),
            "health_slowest": max((s for _, s in health), default=0.0)}


def warm_up(port: int) -> None:
    """Small and big pictures, two at a time, so that every worker has read both before idle is measured."""
    for body in (small_digit_png(), big_digit_png()):
        pair = [threading.Thread(target=request, args=(port, "POST", "/predict", body)) for _ in range(4)]
        for t in pair:
            t.start()
        for t in pair:
            t.join()
    time.sleep(2)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else float("nan"))


if __name__ == "__main__" and os.environ.get("SCRATCHNET_BURST_MODEL"):  # a quick look: python -m tests.support.server
    with serving(os.environ["SCRATCHNET_BURST_MODEL"]) as (proc, port):
        pids = workers(proc.pid)
        warm_up(port)
        idle = {p: status_mib(p, "VmRSS") for p in pids}
        r = hostile_burst(port, big_digit_png(), int(os.environ.get("SCRATCHNET_BURST", "64")), small_digit_png())
        peak = {p: status_mib(p, "VmHWM") for p in pids}
        time.sleep(10)
        after = {p: status_mib(p, "VmRSS") for p in pids}
        print({s: r["statuses"].count(s) for s in set(r["statuses"])}, f"{r['seconds']:.1f} s")
        print("small:", {s: r["small_statuses"].count(s) for s in set(r["small_statuses"])},
              "max latency", max(r["small_latencies"], default=None))
        print("health failures", r["health_failures"], "slowest", round(r["health_slowest"], 3))
        print("idle", idle, "peak", peak, "after 10 s", after)
