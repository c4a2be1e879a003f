"""A faust app that does only faust's part of the canonical agent's work, for bench/faust_floor.py.

Configured like the holded-sync worker (its FLOW_OPTIONS). Per record, by ``HS_FLOOR_MODE``: ``read`` takes it from
the stream; ``table`` also writes it to a table; ``send`` also sends it to another topic (what
the canonical agent does with its one command). No decoding, no decision. When it has seen
``HS_FLOOR_RECORDS`` records it writes its rate (records/s, from the first record) to
``HS_FLOOR_RESULT`` and exits. ``HS_HANDOFF=0`` runs faust's fetch loop as released,
without app/faust_handoff.py; ``HS_DIRECT_SEND=0`` sends through faust's Topic.send and
writes the table with ``table[key] = value`` instead of app/direct_table.py (the worker's way).
"""
import os
import sys
import time
from pathlib import Path

import faust

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app import faust_fixes, faust_handoff  # noqa: E402
from app.direct_table import DirectTable  # noqa: E402
from app.worker import FLOW_OPTIONS  # noqa: E402

faust_fixes.install()
if os.environ.get("HS_HANDOFF", "1") == "1":
    faust_handoff.install()

MODE, RECORDS = os.environ["HS_FLOOR_MODE"], int(os.environ["HS_FLOOR_RECORDS"])
DIRECT_SEND = os.environ.get("HS_DIRECT_SEND", "1") == "1"
PARTITIONS = int(os.environ["HS_PARTITIONS"])
app = faust.App(os.environ["HS_APP_ID"], broker=os.environ["HS_BROKER"], store="memory://",
                topic_partitions=PARTITIONS, web_enabled=False, logging_config=None, **FLOW_OPTIONS)


def topic(name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=PARTITIONS)


source, out = topic(os.environ["HS_TOPIC"]), topic(os.environ["HS_TOPIC"] + ".out")
table = app.Table("floor", default=None, key_type=bytes, value_type=bytes, partitions=PARTITIONS)
direct = DirectTable(app, table)


@app.agent(source)
async def floor(stream):
    seen, start = 0, None
    out_name = out.get_topic_name()
    async for event in stream.events():
        start = start or time.perf_counter()
        if MODE in ("table", "send"):
            if DIRECT_SEND:
                await direct.set(event.key, event.value, event)
            else:
                table[event.key] = event.value
        if MODE == "send":
            if DIRECT_SEND:
                await app.producer.send(out_name, event.key, event.value, None, None, None)
            else:
                await out.send(key=event.key, value=event.value)
        seen += 1
        if seen == RECORDS:
            Path(os.environ["HS_FLOOR_RESULT"]).write_text(f"{RECORDS / (time.perf_counter() - start):.0f}")
            os._exit(0)


if __name__ == "__main__":
    app.main()
