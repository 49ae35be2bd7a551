"""Load on `scratchnet serve`: a bounded burst of POST /predict from concurrent clients.

Starts the server on 127.0.0.1 (each worker count in turn), sends REQUESTS photo-like PNGs of digits
from CLIENTS threads (keep-alive connections), and reports throughput, p50 and p99 latency, errors,
and the server's memory (RSS of all its processes) after a warm-up and after the burst:

    python bench/serve.py [--requests 2000] [--clients 8] [--workers 1,2] [--hostile 32,64] [--markdown bench/RESULTS.md]

The hostile scenario (--hostile N,... for each --max-in-flight S,...): N concurrent POSTs of a 6000x4000 PNG of a drawn digit (24
megapixels to read), while 4 clients keep sending the normal photos; it reports the normal requests'
throughput and latency during the attack, the share of big ones answered 503, each worker's peak
memory (VmHWM) and the server's memory 10 s after the burst against its warmed-up idle size.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ and bench/ are not installed packages

from bench.sections import write_section  # noqa: E402


def photos() -> list[bytes]:
    """Ten 320x240 photo-like digit PNGs (tests/support/photos.py's uneven-light condition)."""
    from scratchnet.data.idx import read_idx
    from tests.support.data import mnist_dir
    from tests.support.photos import digit_photos, pick_digits

    mnist = mnist_dir()
    digits = pick_digits(read_idx(mnist / "t10k-images-idx3-ubyte.gz"), read_idx(mnist / "t10k-labels-idx1-ubyte.gz"))
    return [data for _, data in digit_photos(digits)["grey paper, uneven light +-30"]]


def rss_mib(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2 ** 20


def burst(port: int, bodies: list[bytes], requests: int, clients: int) -> tuple[list[float], int, float]:
    """(latencies in s, errors, wall seconds) of `requests` POSTs shared by `clients` threads."""
    latencies, errors, lock = [], [0], threading.Lock()
    counter = iter(range(requests))

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for i in counter:
            t = time.perf_counter()
            try:
                conn.request("POST", "/predict", body=bodies[i % len(bodies)], headers={"Content-Type": "image/png"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok, conn = False, http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0], time.perf_counter() - t0


def measure(model: str, workers: int, requests: int, clients: int, bodies: list[bytes]) -> dict:
    from tests.support.server import serving

    with serving(model, "--workers", str(workers)) as (proc, port):
        burst(port, bodies, 50, clients)  # warm-up: imports, first-touch allocations
        before = rss_mib(proc.pid)
        lat, errors, wall = burst(port, bodies, requests, clients)
        after = rss_mib(proc.pid)
    q = statistics.quantiles(lat, n=100)
    return {"workers": workers, "requests": requests, "clients": clients, "rps": requests / wall,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "errors": errors, "rss_before": before, "rss_after": after}


def table(rows: list[dict]) -> str:
    lines = ["| workers | requests | clients | requests/s | p50 ms | p99 ms | errors | server MiB before | after |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['workers']} | {r['requests']} | {r['clients']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['errors']} | {r['rss_before']:.0f} | {r['rss_after']:.0f} |" for r in rows]
    return "\n".join(lines)


def hostile(model: str, count: int, bodies: list[bytes], slots: int) -> dict:
    from tests.support.server import big_digit_png, hostile_burst, serving, status_mib, warm_up, workers

    with serving(model, "--workers", "2", "--max-in-flight", str(slots)) as (proc, port):
        pids = workers(proc.pid)
        warm_up(port)
        idle = sum(status_mib(p, "VmRSS") for p in pids)
        r = hostile_burst(port, big_digit_png(), count, bodies, small_every=0, small_clients=4)
        peak = [status_mib(p, "VmHWM") for p in pids]
        time.sleep(10)
        after = sum(status_mib(p, "VmRSS") for p in pids)
    lat = r["small_latencies"]
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {"slots": slots, "count": count, "ok": r["statuses"].count(200), "busy": r["statuses"].count(503),
            "other": len(r["statuses"]) - r["statuses"].count(200) - r["statuses"].count(503), "seconds": r["seconds"],
            "normal_rps": len(lat) / r["seconds"], "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "normal_errors": sum(s != 200 for s in r["small_statuses"]), "health_slowest": r["health_slowest"],
            "idle": idle, "peak": peak, "after": after}


def hostile_table(rows: list[dict]) -> str:
    lines = ["| --max-in-flight | big requests at once | answered 200 | 503 | other | burst s | normal requests/s during it | normal p50 ms | "
             "normal p99 ms | normal errors | slowest /health s | worker peaks MiB | server MiB idle | 10 s after |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    lines += [f"| {r['slots']} | {r['count']} | {r['ok']} | {r['busy']} ({r['busy'] / r['count']:.0%}) | {r['other']} | {r['seconds']:.1f} | "
              f"{r['normal_rps']:.0f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['normal_errors']} | {r['health_slowest']:.2f} | "
              f"{', '.join(f'{p:.0f}' for p in r['peak'])} | {r['idle']:.0f} | {r['after']:.0f} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="artifacts/export")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--hostile", default="32,64", help="bursts of 24-megapixel PNGs to measure ('' for none)")
    ap.add_argument("--max-in-flight", default="1,2", help="serve's --max-in-flight values to measure the bursts with")
    ap.add_argument("--markdown", type=Path, help="put the tables in this file, between the serve-load and serve-hostile markers")
    args = ap.parse_args()
    bodies = photos()
    if args.hostile:
        attacks = hostile_table([hostile(args.model, int(n), bodies, int(s)) for s in args.max_in_flight.split(",")
                                 for n in args.hostile.split(",")])
        print(attacks)
        if args.markdown:
            write_section(args.markdown, "serve hostile", "bench/serve.py",
                          "## Service under hostile load (`python bench/serve.py`)\n\n" + f"{os.cpu_count()} cores, 2 workers, "
                          "the other limits at their defaults (`scratchnet serve --help`); each big request a 6000x4000 PNG of a drawn digit; "
                          "normal requests: 4 clients sending the 320x240 photos back to back during the burst.\n\n" + attacks)
    if not args.workers:
        return
    rows = [measure(args.model, int(w), args.requests, args.clients, bodies) for w in args.workers.split(",")]
    text = table(rows)
    print(text)
    if args.markdown:
        write_section(args.markdown, "serve load", "bench/serve.py",
                      "## Service load (`python bench/serve.py`)\n\n" + f"{os.cpu_count()} cores; each request a "
                      "320x240 photo-like PNG of a digit, read and classified (`POST /predict`).\n\n" + text)

if __name__ == "__main__":
    main()
