"""Benchmark: a bulk backfill through HoldedSink at a fixed quota, with real-time commands on top.

    .venv/bin/python bench/holded_sink.py --invoices 10000 --rate 50

The Holded sandbox runs in a child process (its own CPU) with a sliding-window limit of
``--rate`` requests per second; the sink's limiter is configured to the same rate, in window
mode (each request holds one of ``rate`` slots from its send until 1 s + ``--jitter`` after
its response, see connectors/base/limiter.py). The backfill (contacts, products, then
invoices, bulk lane) runs through ``--concurrency`` workers while one real-time invoice is
injected every ``--realtime-every`` seconds. Printed:

- quota utilisation: requests the sandbox accepted per second / the limit (target >= 95 %);
- 429s seen by the client (target 0), duplicates in the sandbox (target 0), lost commands;
- request latency and the window-mode ceiling ``1 / (1 + jitter + mean latency)`` of the
  quota: utilisation below the ceiling is the sink's idling, the ceiling itself the server's
  latency (the sandbox's filtered lists slow down as its store grows);
- p50 / p99 of real-time command latency excluding time spent in HTTP (target p99 <= 2 s).

The child's store serves lists from an in-memory copy (``FastListStore``, same results): the
stock sandbox reads and decodes every row per list, O(documents) per request, so its latency
grows with the run and the bench would measure the sandbox rather than the sink.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import multiprocessing as mp
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from connectors.base.contracts import DependencyPending  # noqa: E402
from connectors.base.limiter import RateLimit, TokenBucket  # noqa: E402
from connectors.base.retry import RetryPolicy  # noqa: E402
from connectors.holded.client import HoldedClient  # noqa: E402
from connectors.holded.sink import HoldedSink, MemoryLedger  # noqa: E402
from tests.connectors.holded.sink_support import (  # noqa: E402
    KEY, contact_command, invoice_commands, product_command,
)
from tests.mapping.factories import example_mapping  # noqa: E402

API_TIME: contextvars.ContextVar[list[float]] = contextvars.ContextVar("api_time")


def serve(rate: int, conn: Any) -> None:
    """Child process: the sandbox; reports its port, then ground truth when told to stop."""
    from connectors.holded import sandbox
    from connectors.holded.sandbox_faults import RateLimit as WindowLimit
    from connectors.holded.lookup import sync_key_of
    from tests.connectors.holded.sink_support import fast_sandbox_lists

    async def main() -> None:
        with fast_sandbox_lists():
            server = await sandbox.start_sandbox(port=0, rate_limit=WindowLimit(rate, 1.0))
        conn.send(server.url)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        docs = await server.all("documents", docType="invoice")
        keys = Counter(sync_key_of(d) for d in docs)
        contacts = Counter(c.get("customId") for c in await server.all("contacts") if c.get("customId"))
        products = Counter(p.get("sku") for p in await server.all("products"))
        accepted = [r.time for r in server.requests if r.status is not None and r.status != 429]
        conn.send({
            "invoices": len(docs), "invoice_dupes": sum(n - 1 for n in keys.values()),
            "contact_dupes": sum(n - 1 for n in contacts.values()),
            "product_dupes": sum(n - 1 for n in products.values()),
            "accepted": len(accepted), "span": (max(accepted) - min(accepted)) if accepted else 0.0,
            "server_429": sum(1 for r in server.requests if r.status == 429),
            "max_in_window": _max_in_window(sorted(accepted)),
        })
        await server.stop()

    asyncio.run(main())


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class Metered(httpx.AsyncBaseTransport):
    """Counts 429s, keeps each request's duration, and adds it to the calling task's API time."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=200))
        self.status: Counter[int] = Counter()
        self.durations: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
        finally:
            duration = time.perf_counter() - started
            self.durations.append(duration)
            spent = API_TIME.get(None)
            if spent is not None:
                spent[0] += duration
        self.status[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    transport = Metered()
    rate = args.rate * args.limiter_share
    limiter = TokenBucket(RateLimit(rate=rate, burst=max(1.0, rate), window=1.0, jitter=args.jitter,
                                    shrink=0.8, recovery=20.0)  # as app/connections.py
                          if args.jitter >= 0 else RateLimit(rate=rate, burst=1))
    mapping = example_mapping()
    outcomes: Counter[str] = Counter()
    pending_retries = 0
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        client = HoldedClient(http, api_key=KEY, base_url=url, limiter=limiter,
                              retry=RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=5))
        sink = HoldedSink(client, lambda: mapping, MemoryLedger())
        n_contacts, n_products = args.contacts or max(1, args.invoices // 10), args.products
        stages = [
            [contact_command(n, lane="bulk") for n in range(n_contacts)],
            [product_command(n, lane="bulk") for n in range(n_products)],
            [invoice_commands(n, contact_n=n % n_contacts, lane="bulk", day=_day(n),
                              product_ns=[n % n_products, (n * 7 + 3) % n_products])
             for n in range(args.invoices)],
        ]

        async def execute(command: dict[str, Any]) -> None:
            nonlocal pending_retries
            for _ in range(50):
                try:
                    outcome = await sink.execute(command)
                except DependencyPending:
                    pending_retries += 1
                    await asyncio.sleep(1.0)
                    continue
                outcomes[outcome.result["status"]] += 1
                return
            outcomes["lost"] += 1

        latencies: list[float] = []
        done = asyncio.Event()

        async def realtime() -> None:
            n = 10**6
            while not done.is_set():
                await asyncio.sleep(args.realtime_every)
                n += 1
                cmd = invoice_commands(n, contact_n=n % n_contacts, product_ns=[n % n_products],
                                       lane="realtime", day=_day(n))
                spent = [0.0]
                API_TIME.set(spent)
                started = time.perf_counter()
                try:
                    await execute(cmd)
                except Exception:  # noqa: BLE001 - a benchmark reports, it does not stop
                    outcomes["realtime_error"] += 1
                    continue
                latencies.append(time.perf_counter() - started - spent[0])

        injector: asyncio.Task[None] | None = None
        started = time.perf_counter()
        # One queue in stage order, as a backfill publishes them: a worker that finds the
        # contacts drained takes products while the last contacts are in flight, so the
        # quota does not idle at stage ends (an invoice that comes too early waits).
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for stage in stages:
            for cmd in stage:
                queue.put_nowait(cmd)
        first_invoice = stages[-1][0]["command_id"] if stages[-1] else None

        async def worker() -> None:
            nonlocal injector
            while not queue.empty():
                cmd = queue.get_nowait()
                if cmd["command_id"] == first_invoice and injector is None:
                    injector = asyncio.create_task(realtime())  # they need contacts, products
                await execute(cmd)
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        done.set()
        if injector is not None:
            await injector
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"elapsed": elapsed, "outcomes": dict(outcomes), "client_429": transport.status[429],
            "client_requests": sum(transport.status.values()), "pending_retries": pending_retries,
            "realtime": len(latencies),
            "p50": latencies[len(latencies) // 2] if latencies else None,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None,
            "max": latencies[-1] if latencies else None,
            "catalogue_scans": sink.lookup.catalogue_scans, "durations": transport.durations}


def _day(n: int) -> Any:
    import datetime as dt
    return dt.date(2026, 1, 1) + dt.timedelta(days=n % 300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=0, help="default: invoices / 10")
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--rate", type=int, default=50, help="sandbox limit, requests per second")
    parser.add_argument("--limiter-share", type=float, default=1.0,
                        help="the sink's limiter rate as a fraction of --rate")
    parser.add_argument("--jitter", type=float, default=0.005,
                        help="window mode: seconds a slot is held beyond the 1 s window after "
                             "its response; < 0: plain bucket")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--realtime-every", type=float, default=1.0)
    args = parser.parse_args()
    parent, child = mp.get_context("spawn").Pipe()
    process = mp.get_context("spawn").Process(target=serve, args=(args.rate, child), daemon=True)
    process.start()
    url = parent.recv()
    try:
        stats = asyncio.run(run(args, url))
    finally:
        parent.send("stop")
        truth = parent.recv()
        process.join(timeout=30)
    achieved = truth["accepted"] / truth["span"] if truth["span"] else 0.0
    print(f"invoices={args.invoices} contacts={args.contacts or max(1, args.invoices // 10)} "
          f"products={args.products} rate={args.rate}/s limiter={args.rate * args.limiter_share:g}/s "
          f"({'window 1 s + %g s' % args.jitter if args.jitter >= 0 else 'plain bucket'}) "
          f"concurrency={args.concurrency}")
    print(f"elapsed {stats['elapsed']:.1f}s, outcomes {stats['outcomes']}, "
          f"DependencyPending retries {stats['pending_retries']}, "
          f"catalogue scans {stats['catalogue_scans']}")
    print(f"requests accepted {truth['accepted']} over {truth['span']:.1f}s = {achieved:.2f}/s "
          f"-> quota utilisation {100 * achieved / args.rate:.1f} % "
          f"(busiest 1 s window: {truth['max_in_window']})")
    print(f"429s seen by the client {stats['client_429']} (sandbox counted {truth['server_429']})")
    durations = stats["durations"]
    if durations and args.jitter >= 0:
        # Window mode holds a slot from the send to 1 s + jitter after the response: its ceiling
        # is rate / (1 + jitter + mean latency), so latency growth shows up as lost quota.
        mean, tail = sum(durations) / len(durations), durations[-max(1, len(durations) // 4):]
        ceiling = 1 / (1 + args.jitter + mean)
        print(f"request latency mean {mean * 1000:.0f} ms (last quarter "
              f"{sum(tail) / len(tail) * 1000:.0f} ms, p99 {sorted(durations)[int(len(durations) * 0.99)] * 1000:.0f} ms)"
              f" -> window-mode ceiling {100 * ceiling * args.limiter_share:.1f} % of the quota")
    print(f"duplicates: invoices {truth['invoice_dupes']}, contacts {truth['contact_dupes']}, "
          f"products {truth['product_dupes']}; invoices in Holded {truth['invoices']} "
          f"(expected {args.invoices} + {stats['realtime']} real-time)")
    if stats["p99"] is not None:
        print(f"real-time commands {stats['realtime']}: latency excluding API time "
              f"p50 {stats['p50'] * 1000:.0f} ms, p99 {stats['p99'] * 1000:.0f} ms, "
              f"max {stats['max'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
