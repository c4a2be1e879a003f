"""CPU cost of the canonical agent's per-event work, without Kafka (us/event).

    .venv/bin/python bench/canonical_cpu.py [--events 20000] [--entities 4000] [--cache N]
                                            [--profile | --memory]

Runs the synthetic contact changes of bench/_common.py through app.canonical_step (the code
the agent runs: decode, decide, encode the new entry) against a dict standing in for the
table, and encodes each command as the agent's publish does. Reports the whole per-event
cost and its parts (Avro decode/encode of each record, hashing), so a change to the hot path
can be measured in seconds instead of a Kafka run (bench/pipeline.py). Times are
this process's CPU time per operation, so other load on the machine barely shows. --cache sets the
decoded-entry cache size (default: the setting's default; 0 disables it). --memory reports
what one cached entry costs (tracemalloc), as kept after a decision and as decoded cold.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import events  # noqa: E402
from app import canonical_entry  # noqa: E402
from app.avro import codec  # noqa: E402
from app.canonical_entry import Entry  # noqa: E402
from app.canonical_step import CanonicalStep  # noqa: E402
from app.connections import engine_policy  # noqa: E402
from app.core.hashing import Fingerprint  # noqa: E402
from app.live_mapping import LiveMapping  # noqa: E402
from app.settings import Settings  # noqa: E402

COMMAND = codec("Command")


def per_op(label: str, fn, n: int) -> float:
    start = time.process_time()  # CPU time: the machine may be shared
    fn()
    us = (time.process_time() - start) / n * 1e6
    print(f"{label:28s} {us:8.1f} us")
    return us


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--entities", type=int, default=4_000)
    ap.add_argument("--cache", type=int, default=None, help="decoded-entry cache size")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the whole run")
    ap.add_argument("--memory", action="store_true", help="bytes per cached entry")
    args = ap.parse_args()
    settings = Settings(systems=("holded", "odoo"))
    policy = engine_policy(settings, LiveMapping())
    cache = settings.decoded_cache if args.cache is None else args.cache
    evs = list(events(args.events, args.entities))
    table: dict[bytes, bytes] = {}

    def run(commands: list[dict] | None = None) -> None:
        """Every event through the agent's step; ``commands`` collects the commands if given."""
        step = CanonicalStep(policy, cache)
        for key, value in evs:
            done = step(key, value, table.get(key))
            if done.entry is not None:
                table[key] = done.entry.raw
            for cmd in done.decision.commands:
                COMMAND.dumps(cmd)
            if commands is not None:
                commands += done.decision.commands

    if args.memory:
        memory(policy, evs, args.entities)
        return
    per_op(f"whole event (cache {cache})", run, len(evs))
    table.clear()
    if args.profile:
        cProfile.runctx("run()", globals(), {"run": run}, "/tmp/canonical_cpu.prof")
        pstats.Stats("/tmp/canonical_cpu.prof").sort_stats("tottime").print_stats(25)
        return
    print("parts:")
    commands: list[dict] = []
    run(commands)
    change = codec("ChangeEvent")
    per_op("ChangeEvent loads", lambda: [change.loads(v) for _, v in evs], len(evs))
    per_op("Command dumps", lambda: [COMMAND.dumps(c) for c in commands], len(commands))
    raw = list(table.values())
    per_op("entry decode (all parts)", lambda: [canonical_entry.decode(r) for r in raw], len(raw))
    decoded = [canonical_entry.decode(r) for r in raw]
    for field in ("state", "replicas"):
        c = canonical_entry.CODECS[field]
        values = [d[field] for d in decoded]
        per_op(f"{c.name} dumps", lambda: [c.dumps(v) for v in values], len(values))
        avro = [c.avro.dumps(v) for v in values]  # the same records as Avro, as written before
        per_op(f"{c.name} Avro dumps", lambda: [c.avro.dumps(v) for v in values], len(values))
        per_op(f"{c.name} Avro loads", lambda: [c.avro.loads(v) for v in avro], len(values))
    records = [d["state"]["record"] for d in decoded]
    per_op("Fingerprint hashes", lambda: [(f.content_hash(), f.field_hashes())
                                          for f in map(Fingerprint, records)], len(records))
    print(f"entry size: {sum(map(len, raw)) / len(raw):.0f} bytes")


def memory(policy, evs: list[tuple[bytes, bytes]], entities: int) -> None:
    """Traced bytes held by a cache of every entity: entries kept after their decisions (they
    share strings with the records decided), then the same entries decoded from the table."""
    table: dict[bytes, bytes] = {}
    step = CanonicalStep(policy, entities)
    tracemalloc.start()
    for key, value in evs:
        done = step(key, value, table.get(key))
        if done.entry is not None:
            table[key] = done.entry.raw
    del done
    gc.collect()
    full = tracemalloc.get_traced_memory()[0]
    step.cache.clear()
    gc.collect()
    empty = tracemalloc.get_traced_memory()[0]
    print(f"cached after a decision: {(full - empty) / entities:,.0f} bytes/entry "
          f"(the table's own bytes not counted)")
    for key, raw in table.items():
        step.cache.put(key, Entry.of(raw))
    gc.collect()
    print(f"decoded from the table: {(tracemalloc.get_traced_memory()[0] - empty) / entities:,.0f} "
          f"bytes/entry")
    tracemalloc.stop()


if __name__ == "__main__":
    main()
