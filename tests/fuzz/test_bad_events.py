"""Bad input never kills the canonical agent: fuzzed change events through its own path.

Every record runs through exactly what ``app.worker``'s ``canonical`` agent does with an inbox
record (``app.canonical_step.CanonicalStep``: ``RESULT.knows`` -> decode with the ``app.avro``
codec -> record key == entity key -> decode the stored entry ->
``app.core.decide.apply_change``/``apply_result`` with the default policy -> encode), and
every JSON line through ``app.ingest.build_event``. Each must end in one of the documented
rejections (``app.worker.REJECTED``; ``ValueError`` and its subclasses for ingest) or in a
decision, never in another exception and never in a hang (a per-record alarm).

The counts are printed at the end of the session (tests/conftest.py) and the last test
asserts at least ``tally.MINIMUM`` records were fuzzed.
"""
from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import math
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.avro import MARKER, SCHEMA_DIR, _parse_all, _read_dir, codec
from app.canonical_entry import encode
from app.canonical_step import CanonicalStep, encoded_parts
from app.core.decide import Decision, apply_change
from app.core.hashing import content_hash
from app.core.policy import default_policy
from app.ingest import build_event
from app.jsonform import loads_exact
from app.worker import REJECTED
from tests.core import factories as f
from tests.fuzz import tally

CHANGE, RESULT = codec("ChangeEvent"), codec("CommandResult")
POLICY = default_policy(("odoo",))
HANG_S = 10.0
MB = 1_000_000

FUZZ = settings(deadline=None, derandomize=False, database=None,
                suppress_health_check=list(HealthCheck))


class Hang(Exception):
    """A record took longer than HANG_S to decide."""


@contextmanager
def no_hang(seconds: float = HANG_S) -> Iterator[None]:
    def fire(_sig, _frame):
        raise Hang(f"no outcome after {seconds}s")
    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --- the agent's path: app.canonical_step, as app/worker.py's canonical agent runs it --------

def agent(key: bytes | None, value: bytes, tables: dict[str, bytes | None] | None = None) -> str:
    """Run one inbox record as the canonical agent does; returns its outcome label."""
    tables = tables or {}
    stored = encode(None, tables.get("entities"), tables.get("replicas"), tables.get("links")) \
        if tables else None
    with no_hang():
        try:
            decision = CanonicalStep(POLICY, 0)(key, value, stored).decision
        except REJECTED as exc:
            label = f"rejected:{exc.__class__.__name__}"
        else:
            assert isinstance(decision, Decision)
            label = f"decided:{decision.outcome}"
    tally.OUTCOMES[label] += 1
    return label


def run(category: str, key: bytes | None, value: bytes, tables: dict | None = None) -> str:
    tally.FUZZED[category] += 1
    return agent(key, value, tables)


# --- valid seeds ----------------------------------------------------------------------------

def _seed_events() -> list[dict[str, Any]]:
    payment = {"invoice_key": "invoice/odoo/I1", "contact_key": "contact/odoo/C1",
               "date": dt.date(2026, 3, 2), "amount": Decimal("121.00"), "currency": "EUR",
               "method": "transfer", "treasury": None, "reference": "R-1", "description": None}
    product = {"kind": "product", "sku": "SKU-1", "name": "Pieza", "description": None,
               "price": Decimal("50.000000"), "cost": None, "currency": "EUR",
               "sales_taxes": ["iva_21"], "purchase_taxes": [], "sales_account": None,
               "purchases_account": None, "barcode": None, "stock": [], "active": True}
    try:
        product = {k: v for k, v in CHANGE.loads(CHANGE.dumps(
            f.change("odoo", product, key="product/odoo/P1")))["payload"].items()}
    except ValueError:
        product = None  # the Product schema differs from this sketch: fuzz the others
    seeds = [f.change("odoo", f.contact(), key="contact/odoo/C1"),
             f.change("odoo", f.invoice(), key="invoice/odoo/I1"),
             f.change("holded", payment, key="payment/holded/PAY1"),
             f.change("odoo", None, key="contact/odoo/C2", op="delete")]
    if product is not None:
        seeds.append(f.change("odoo", product, key="product/odoo/P1"))
    return seeds


SEEDS = _seed_events()
SEED_BYTES = [CHANGE.dumps(e) for e in SEEDS]
RESULT_SEED = f.result_for({"command_id": "c" * 32, "entity_key": "contact/odoo/C1",
                            "target_system": "holded", "vector": {"odoo": 1},
                            "content_hash": SEEDS[0]["content_hash"]})
RESULT_BYTES = RESULT.dumps(RESULT_SEED)


def _tables_after(event: dict[str, Any]) -> dict[str, bytes | None]:
    """Table contents after a valid event was applied (to fuzz against existing state)."""
    parts = encoded_parts(apply_change(event, None, None, None, POLICY))
    return {"entities": parts["state"], "replicas": parts["replicas"], "links": parts["links"]}


PRIOR = {e["entity_key"]: _tables_after(e) for e in SEEDS}


def test_seeds_are_valid_and_decided():
    for event, raw in zip(SEEDS, SEED_BYTES):
        assert agent(event["entity_key"].encode(), raw).startswith("decided:"), event["entity_key"]


# --- A. arbitrary bytes, and bodies behind a valid header -------------------------------------

@settings(FUZZ, max_examples=1500)
@given(st.one_of(st.binary(max_size=400), st.binary(max_size=40).map(lambda b: MARKER + b)),
       st.one_of(st.none(), st.binary(max_size=60), st.sampled_from([b"contact/odoo/C1"])))
def test_arbitrary_bytes(value, key):
    run("arbitrary_bytes", key, value)


@settings(FUZZ, max_examples=1500)
@given(st.sampled_from([CHANGE.fingerprint, RESULT.fingerprint]), st.binary(max_size=600),
       st.booleans())
def test_random_body_behind_a_known_fingerprint(fp, body, with_state):
    tables = PRIOR["contact/odoo/C1"] if with_state else None
    run("random_body", b"contact/odoo/C1", MARKER + fp + body, tables)


# --- B. truncated and corrupted valid records --------------------------------------------------

@settings(FUZZ, max_examples=1500)
@given(st.integers(0, len(SEED_BYTES) - 1), st.data())
def test_truncated_records(i, data):
    raw = SEED_BYTES[i]
    cut = data.draw(st.integers(0, len(raw) - 1))
    run("truncated", SEEDS[i]["entity_key"].encode(), raw[:cut])


@settings(FUZZ, max_examples=1500)
@given(st.integers(-1, len(SEED_BYTES) - 1), st.data(), st.booleans())
def test_corrupted_bytes(i, data, with_state):
    raw = bytearray(RESULT_BYTES if i < 0 else SEED_BYTES[i])
    key = (RESULT_SEED["entity_key"] if i < 0 else SEEDS[i]["entity_key"]).encode()
    flips = data.draw(st.lists(st.tuples(st.integers(2, len(raw) - 1), st.integers(0, 255)),
                               min_size=1, max_size=6))
    for pos, byte in flips:
        raw[pos] = byte
    if data.draw(st.booleans()):  # also grow or shrink the tail
        raw += data.draw(st.binary(max_size=20))
    tables = PRIOR.get(key.decode()) if with_state else None
    run("corrupted", key, bytes(raw), tables)


# --- C. well-formed Avro with wrong values: written with the schemas minus logical types ------

def _raw_schemas() -> dict[str, Any]:
    def strip(node: Any) -> Any:
        if isinstance(node, list):
            return [strip(n) for n in node]
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()
                    if k not in ("logicalType", "precision", "scale")}
        return node
    return _parse_all({k: strip(v) for k, v in _read_dir(SCHEMA_DIR).items()})


RAW = _raw_schemas()["ChangeEvent"]


def raw_record(raw: bytes) -> dict[str, Any]:
    """A valid event as plain Avro values: dates are ints, decimals bytes, unions tagged."""
    return fastavro.schemaless_reader(io.BytesIO(raw[10:]), RAW, None, return_record_name=True)


def raw_bytes(record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    buf.write(MARKER + CHANGE.fingerprint)
    fastavro.schemaless_writer(buf, RAW, record)
    return buf.getvalue()


RAW_SEEDS = [raw_record(b) for b in SEED_BYTES]
I64 = st.integers(-(2**63), 2**63 - 1)
I32 = st.integers(-(2**31), 2**31 - 1)
GIANT = st.sampled_from([MB, 2 * MB]).map(lambda n: "x" * n)
TEXT = st.one_of(st.text(max_size=40), GIANT, st.sampled_from(
    ["", " ", "EURO", "eur", "€", "XXX", "E\x00R", "🙂", "../../etc", "a" * 600]))
BAD_KEYS = st.one_of(TEXT, st.sampled_from([
    "contact", "contact/odoo", "contact/odoo/", "contact//C1", "Contact/odoo/C1",
    "customer/odoo/C1", "invoice/odoo/C1", "contact/ODOO/C1", "contact/odoo/ C1",
    "contact/odoo/C1\n", "contact/od-oo/C1", "/odoo/C1", "contact/odoo/C1/extra/../x",
    "contact/" + "s" * 41 + "/C1", "contact/odoo/" + "i" * 600]))
DECIMAL_BYTES = st.one_of(st.binary(max_size=40), st.sampled_from([b"", b"\x7f" * 64, b"\x80" * 1024]))


def _mutations() -> st.SearchStrategy[Callable[[dict], str]]:
    """(name, mutate) pairs: each breaks a raw record one way."""
    def top(field: str, values: st.SearchStrategy) -> st.SearchStrategy:
        return values.map(lambda v: (f"top.{field}", lambda r: r.__setitem__(field, v)))

    def in_payload(values: st.SearchStrategy, kinds: tuple[type, ...], tag: str) -> st.SearchStrategy:
        def apply(v: Any) -> tuple[str, Callable]:
            def mutate(r: dict) -> None:
                payload = r["payload"]
                if not isinstance(payload, tuple):
                    return
                _name, body = payload
                fields = [k for k, x in body.items() if isinstance(x, kinds) and not isinstance(x, bool)]
                if fields:
                    body[sorted(fields)[hash(repr(v)) % len(fields)]] = v
            return f"payload.{tag}", mutate
        return values.map(apply)

    def swap_branch(name: str) -> tuple[str, Callable]:
        def mutate(r: dict) -> None:
            other = next(raw_record(b)["payload"] for b in SEED_BYTES
                         if raw_record(b)["payload"] and raw_record(b)["payload"][0].endswith(name))
            r["payload"] = copy.deepcopy(other)
        return "payload.wrong_entity", mutate

    return st.one_of(
        top("source_ts", I64),
        top("entity_key", BAD_KEYS),
        top("source_system", TEXT),
        top("source_id", TEXT),
        top("event_id", TEXT),
        top("content_hash", st.one_of(TEXT, st.text("0123456789abcdef", min_size=64, max_size=64))),
        top("entity", st.sampled_from(["contact", "product", "invoice", "payment"])),
        top("op", st.sampled_from(["upsert", "delete"])),
        top("payload", st.none()),
        st.sampled_from(["Contact", "Invoice", "Payment", "Product"]).map(swap_branch),
        in_payload(I32, (int,), "int_out_of_range"),       # dates out of range, days, line_no
        in_payload(DECIMAL_BYTES, (bytes,), "decimal_bytes"),  # money: garbage, giant
        in_payload(TEXT, (str,), "text"),                  # currency codes, tax ids, 1 MB
    )


@settings(FUZZ, max_examples=2500)
@given(st.integers(0, len(RAW_SEEDS) - 1), st.lists(_mutations(), min_size=1, max_size=4),
       st.booleans(), st.booleans())
def test_well_formed_records_with_wrong_values(i, mutations, with_state, honest_hash):
    record = copy.deepcopy(RAW_SEEDS[i])
    for _name, mutate in mutations:
        mutate(record)
    if honest_hash:  # a hash that matches, so the checks after the hash check run too
        with contextlib.suppress(Exception):  # undecodable: the agent sees it as it is
            record["content_hash"] = content_hash(CHANGE.loads(raw_bytes(record))["payload"])
    try:
        value = raw_bytes(record)
    except (ValueError, TypeError, OverflowError):
        value = MARKER + CHANGE.fingerprint + b"\x00"  # unencodable even raw: send a stub
    key = record["entity_key"] if isinstance(record["entity_key"], str) else ""
    tables = PRIOR.get(SEEDS[i]["entity_key"]) if with_state else None
    run("wrong_values", key.encode("utf-8", "surrogatepass"), value, tables)


# --- D. records built in memory with wrong types, through the producer's encoder -------------

def _python_values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([math.nan, math.inf, -math.inf, 0.1, 1e308, Decimal("NaN"),
                         Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E+40"),
                         Decimal("12.345"), Decimal("-0.001"), dt.date.min, dt.date.max,
                         dt.datetime.max.replace(tzinfo=dt.UTC), "12.50", b"\x00",
                         [], {}, {"$dec": "1"}, ("x", 1)]),
        TEXT)


@settings(FUZZ, max_examples=2000)
@given(st.integers(0, len(SEEDS) - 1), st.data(), st.booleans())
def test_wrong_types_and_missing_keys_through_the_encoder(i, data, recompute_hash):
    event = copy.deepcopy(SEEDS[i])
    target = event if event["payload"] is None or data.draw(st.booleans()) else event["payload"]
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(sorted(target)))
        if data.draw(st.integers(0, 4)) == 0:
            del target[name]
        else:
            target[name] = data.draw(_python_values())
    if recompute_hash and isinstance(event.get("payload"), dict):
        try:
            event["content_hash"] = content_hash(event["payload"])
        except (TypeError, ValueError):
            pass
    tally.FUZZED["wrong_types"] += 1
    with no_hang():
        try:
            value = CHANGE.dumps(event)
        except REJECTED as exc:  # the producer refuses it: it never reaches a topic
            tally.OUTCOMES[f"refused_by_encoder:{exc.__class__.__name__}"] += 1
            return
    key = event.get("entity_key")
    agent(key.encode("utf-8", "surrogatepass") if isinstance(key, str) else None, value)


@settings(FUZZ, max_examples=500)
@given(st.integers(0, len(SEEDS) - 1), st.one_of(BAD_KEYS, st.none()))
def test_record_key_is_not_the_entity_key(i, key):
    label = run("wrong_record_key", None if key is None else key.encode("utf-8", "surrogatepass"),
                SEED_BYTES[i])
    if key != SEEDS[i]["entity_key"]:
        assert label == "rejected:BadEvent"


# --- E. the JSON Lines path: app.ingest.build_event -----------------------------------------

GOOD_LINES = [loads_exact(line) for line in
              (SCHEMA_DIR.parent / "docs" / "examples" / "sample-odoo.jsonl").read_text().splitlines()
              if line.strip()]
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
              st.sampled_from([Decimal("12.345"), Decimal("1E+30"), Decimal(-1), "NaN", "Infinity",
                               "1e999", "12,50", "2026-13-45", "99999-01-01", "0000-00-00",
                               "2026-03-01T10:00:00", "2026-03-01T10:00:00Z", "EURO", "",
                               2**63, -(2**63) - 1, "x" * MB])),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=10), children, max_size=3)),
    max_leaves=6)


def ingest(obj: Any, system: str = "odoo") -> str:
    tally.FUZZED["jsonl"] += 1
    with no_hang():
        try:
            event = build_event(obj, system)
        except ValueError as exc:  # JsonFormError, KeyError_ and BadEvent are ValueErrors
            label = f"ingest_rejected:{exc.__class__.__name__}"
            tally.OUTCOMES[label] += 1
            return label
    # A valid line is published; the agent must decide it.
    return agent(event["entity_key"].encode(), CHANGE.dumps(event))


@settings(FUZZ, max_examples=2000)
@given(st.integers(0, len(GOOD_LINES) - 1), st.data())
def test_json_lines_with_wrong_values(i, data):
    obj = copy.deepcopy(GOOD_LINES[i])
    for _ in range(data.draw(st.integers(1, 3))):
        target = obj
        if isinstance(obj.get("data"), dict) and data.draw(st.booleans()):
            target = obj["data"]
        choice = data.draw(st.integers(0, 5))
        if choice == 0 and target:
            del target[data.draw(st.sampled_from(sorted(target)))]
        elif choice == 1:
            target[data.draw(st.text(max_size=12))] = data.draw(JSON_VALUES)
        elif target:
            target[data.draw(st.sampled_from(sorted(target)))] = data.draw(JSON_VALUES)
    ingest(obj)


@settings(FUZZ, max_examples=500)
@given(JSON_VALUES)
def test_json_lines_that_are_not_entities(obj):
    assert ingest(obj).startswith(("ingest_rejected:", "decided:"))


@pytest.mark.parametrize("text", ['{"amount": NaN}', '{"amount": Infinity}', '{"a": -Infinity}',
                                  "[1e999]", "{", '{"a": 1}x', "\x00"])
def test_json_text_with_non_numbers_or_garbage_is_a_value_error(text):
    tally.FUZZED["jsonl_text"] += 1
    with pytest.raises(ValueError):
        build_event(loads_exact(text), "odoo")


# --- bugs this fuzzer found, fixed; kept as regression tests ----------------------------------

def test_encoder_overflow_is_a_value_error():
    event = copy.deepcopy(SEEDS[0])
    event["source_ts"] = 2**64
    with pytest.raises(ValueError):
        CHANGE.dumps(event)


def test_ingest_huge_epoch_timestamp_is_a_value_error():
    line = json.dumps({"entity": "contact", "id": "C1", "updated_at": 10**20,
                       "data": {"kind": "customer", "name": "X"}})
    with pytest.raises(ValueError):
        build_event(loads_exact(line), "odoo")


# --- the count --------------------------------------------------------------------------------

def test_zz_at_least_ten_thousand_bad_events_were_fuzzed():
    if not tally.total():
        pytest.skip("run with the whole file: the fuzz tests above do the counting")
    unexpected = {k: v for k, v in tally.OUTCOMES.items()
                  if not k.startswith(("rejected:", "decided:", "ingest_rejected:",
                                       "refused_by_encoder:"))}
    assert not unexpected
    print(f"\nbad events fuzzed: {tally.total()}; {dict(tally.FUZZED)}; {dict(tally.OUTCOMES)}")
    assert tally.total() >= tally.MINIMUM, dict(tally.FUZZED)
