"""Load on a real `emodet serve` process on 127.0.0.1: throughput, latency, memory.

    python benchmarks/serve_load.py [--requests 240] [--detector yunet] [--model bundled]

For each setting (batching on, batching off) a fresh server is started; for 1, 4 and 16
concurrent clients, each sending the bundled sample photo (one face, 512x512 JPEG) as fast as
it gets answers, a fixed number of requests is made (the load stops by itself). Prints
requests per second (median of ``--repeats`` runs), p50/p95/p99 latency (over all runs), errors,
and the server's resident memory before and after each row. The ratio column is throughput
against 1 client in the same server.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_fidelity import seed_detector_cache  # noqa: E402
from serving_process import Server  # noqa: E402

PHOTO = (REPO / "src" / "emodet" / "assets" / "samples" / "astronaut.jpg").read_bytes()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, clients: int, requests: int) -> tuple[float, list[float], int]:
    """(requests per second, latencies in ms, errors) for ``requests`` spread over ``clients`` threads."""
    latencies, errors, lock = [], [0], threading.Lock()
    share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]

    def client(count: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as session:
            for _ in range(count):
                started = time.perf_counter()
                response = session.post("/v1/detect", content=PHOTO, headers={"Content-Type": "image/jpeg"})
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    latencies.append(elapsed)
                    errors[0] += response.status_code != 200

    threads = [threading.Thread(target=client, args=(n,)) for n in share]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return requests / (time.perf_counter() - started), latencies, errors[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=240, help="requests per concurrency level")
    parser.add_argument("--detector", default="yunet")
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row (median throughput, pooled latencies)")
    parser.add_argument("--serve-args", default="", help="more `emodet serve` options, e.g. '--library-threads 0'")
    args = parser.parse_args()
    seed_detector_cache()
    extra = ([] if args.model == "bundled" else ["--model", args.model]) + args.serve_args.split()
    print(f"machine: {os.cpu_count()} CPU cores; model {args.model}; detector {args.detector}; "
          f"serve {args.serve_args!r}; "
          f"{args.requests} requests per run, {args.repeats} runs per row (median req/s, latency percentiles "
          "over all runs); one 512x512 JPEG with one face")
    print(f"{'batching':<9} {'clients':>7} {'req/s':>7} {'x 1 client':>10} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'errors':>6} {'RSS MB before/after':>20}")
    for batching in (True, False):
        flags = [] if batching else ["--no-batching"]
        with Server("--detector", args.detector, *extra, *flags) as server:
            load(server.url, 4, 40)  # warm-up
            base = None
            for clients in (1, 4, 16):
                before = rss_mb(server.pid())
                runs = [load(server.url, clients, args.requests) for _ in range(args.repeats)]
                after = rss_mb(server.pid())
                rate = float(np.median([r[0] for r in runs]))
                latencies = [ms for r in runs for ms in r[1]]
                errors = sum(r[2] for r in runs)
                base = base or rate
                p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
                print(f"{'on' if batching else 'off':<9} {clients:7d} {rate:7.1f} {rate / base:9.2f}x {p50:7.1f} "
                      f"{p95:7.1f} {p99:7.1f} {errors:6d} {before:9.0f} / {after:<8.0f}")


if __name__ == "__main__":
    main()
