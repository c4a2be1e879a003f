"""A bare faust app for bench/rebalance_loss.py: it writes down every record its agent sees.

Configured like the holded-sync worker (its FLOW_OPTIONS, one table), with a little CPU per
record so a backlog is being fetched when a rebalance comes.
``HS_FAUST_FIXES=0`` runs faust as released, without app/faust_fixes.py and app/faust_cleared.py.
"""
import os
import sys
from pathlib import Path

import faust

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.worker import FLOW_OPTIONS  # noqa: E402  (importing it installs no fix)

if os.environ.get("HS_FAUST_FIXES", "1") == "1":
    from app import faust_cleared, faust_fixes
    faust_fixes.install()
    faust_cleared.install()

PARTITIONS = int(os.environ["HS_PARTITIONS"])
app = faust.App(os.environ["HS_APP_ID"], broker=os.environ["HS_BROKER"], store="memory://",
                topic_partitions=PARTITIONS, broker_session_timeout=10, broker_heartbeat_interval=1,
                web_enabled=False, logging_config=None, **FLOW_OPTIONS)
topic = app.topic(os.environ["HS_TOPIC"], key_type=bytes, value_type=bytes, key_serializer="raw",
                  value_serializer="raw", partitions=PARTITIONS)
table = app.Table("seen", default=None, key_type=bytes, value_type=bytes, partitions=PARTITIONS)
seen = open(os.environ["HS_SEEN_FILE"], "a", buffering=1)


@app.agent(topic)
async def record_offsets(stream):
    async for event in stream.events():
        table[event.key] = event.value
        seen.write(f"{event.message.partition} {event.message.offset}\n")
        sum(range(300))  # a little work per record


if __name__ == "__main__":
    app.main()
