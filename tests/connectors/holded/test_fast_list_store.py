"""The benchmarks' FastListStore lists exactly what the sandbox's own store lists."""
from __future__ import annotations

import random

from connectors.holded.sandbox_store import SandboxStore
from tests.connectors.holded.sink_support import FastListStore


async def test_fast_lists_equal_the_stores_own_after_random_writes():
    plain, fast = await SandboxStore.open(seed=7), await FastListStore.open(seed=7)
    rng = random.Random(3)
    try:
        await fast.list("documents")  # the copy exists before the writes, and must follow them
        for step in range(400):
            op = rng.choice(["insert", "insert", "many", "put", "delete"])
            ids = [b["id"] for b in await plain.list("documents")]
            if op == "insert":
                body = {"n": step, "contact": rng.randrange(5)}
                for store in (plain, fast):
                    await store.insert("documents", {**body, "id": f"d{step}"})
            elif op == "many":
                bodies = [{"id": f"m{step}-{i}", "n": step, "contact": rng.randrange(5)} for i in range(3)]
                for store in (plain, fast):
                    await store.insert_many("documents", bodies)
            elif ids and op == "put":
                body = {"id": rng.choice(ids), "n": -step, "contact": rng.randrange(5)}
                for store in (plain, fast):
                    await store.put("documents", body)
            elif ids:
                victim = rng.choice(ids)
                for store in (plain, fast):
                    await store.delete("documents", victim)
            contact = rng.randrange(5)
            after = rng.choice([0, step // 2])
            assert await fast.list_with_seq("documents", lambda b: b["contact"] == contact, after) == \
                await plain.list_with_seq("documents", lambda b: b["contact"] == contact, after)
        assert await fast.list("documents") == await plain.list("documents")
        listed = await fast.list("documents")
        listed[0]["n"] = "changed by a caller"  # callers get private copies
        assert await fast.list("documents") == await plain.list("documents")
    finally:
        await plain.close()
        await fast.close()
