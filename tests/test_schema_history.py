"""Records written by the release before payments on account (commit 6c7659d) still decode.

The bytes below were written by that release's own codecs: a payment in a ChangeEvent, a
Command, an EntityState (Avro) and the canonical table's MessagePack form. Payment v2 made
``invoice_key`` nullable, which changes how every record carrying a payment is laid out while
their by-name fingerprints (what that release wrote) stayed the same: read with today's
layout, these records were refused as corrupt. They are read here through the history.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.avro import codec
from app.table_codec import table_codec

PAID = {"invoice_key": "invoice/odoo/INV-1", "contact_key": "contact/odoo/C1",
        "date": dt.date(2026, 3, 5), "amount": Decimal("121.00"), "currency": "EUR",
        "method": "transfer", "treasury": "bank_main", "reference": "R-1",
        "description": "cobro"}
_BODY = ("0824696e766f6963652f6f646f6f2f494e562d31021e636f6e746163742f6f646f6f2f4331cac00204"
         "2f440645555202107472616e73666572021262616e6b5f6d61696e0206522d31020a636f62726f")
CHANGE = ("c30198abcfca0e3a4a8c06652d31227061796d656e742f686f6c6465642f5031060c686f6c6465640450"
          "3180a0abfef96200" + _BODY + "80013738303436646532333133643837353132393266373933383961"
          "353565663738666562643266643939633565636461326165373638386430376635613366666500")
COMMAND = ("c30170ba9a2ff90b255306632d31227061796d656e742f686f6c6465642f503106086f646f6f00020c"
           "686f6c646564020008" + _BODY[2:] + "026800000224696e766f6963652f6f646f6f2f494e562d31"
           "00000006652d310000")
STATE = ("c301504f31a62a408927227061796d656e742f686f6c6465642f5031060824" + _BODY[4:] +
         "00020c686f6c646564020000020c686f6c6465640206652d31020c616d6f756e740000")
TABLE = ("484d504f31a62a40892787aa656e746974795f6b6579b17061796d656e742f686f6c6465642f5031a665"
         "6e74697479a77061796d656e74a67265636f726489ab696e766f6963655f6b6579b2696e766f6963652f"
         "6f646f6f2f494e562d31ab636f6e746163745f6b6579af636f6e746163742f6f646f6f2f4331a4646174"
         "65c70a02323032362d30332d3035a6616d6f756e74c706013132312e3030a863757272656e6379a34555"
         "52a66d6574686f64a87472616e73666572a87472656173757279a962616e6b5f6d61696ea97265666572"
         "656e6365a3522d31ab6465736372697074696f6ea5636f62726fa764656c65746564c2a6766563746f72"
         "81a6686f6c64656401aa70726f76656e616e636580b170726f76656e616e63655f67726f757073918" +
         "4a673797374656da6686f6c646564a9736f757263655f747301a86576656e745f6964a3652d31a66669"
         "656c647391a6616d6f756e74")


@pytest.mark.parametrize("name, data, field", [
    ("ChangeEvent", CHANGE, "payload"), ("Command", COMMAND, "payload"),
    ("EntityState", STATE, "record")])
def test_payments_written_before_payment_v2_still_decode(name, data, field):
    assert codec(name).loads(bytes.fromhex(data))[field] == PAID


def test_a_table_value_written_before_payment_v2_still_decodes():
    state = table_codec("EntityState").loads(bytes.fromhex(TABLE))
    assert state["record"] == PAID and state["provenance"]["amount"]["system"] == "holded"


# Every fingerprint the release before wrote, per record type: none may become unknown.
WRITTEN_BEFORE = {
    "ChangeEvent": ("98abcfca0e3a4a8c", "48d41de61fb85f16"),
    "Command": ("70ba9a2ff90b2553", "ca2d509b7266649d", "b9958e0c46bfcce8"),
    "EntityState": ("504f31a62a408927", "f33ab7935a87b524"),
    "SinkLedger": ("92a7614405064d57", "094d5dbdba2c90dc", "438b87d74ee587af"),
    "CanonicalEntry": ("ba3b5c1a805ac5d7",),
}


@pytest.mark.parametrize("name", sorted(WRITTEN_BEFORE))
def test_every_fingerprint_written_before_is_still_known(name):
    c = codec(name)
    for fp in WRITTEN_BEFORE[name]:
        assert c.knows(b"\xc3\x01" + bytes.fromhex(fp)), (name, fp)


def test_todays_records_carry_a_fingerprint_no_earlier_release_wrote():
    # Else a reader could not tell a payment on account from an old payment's bytes.
    for name, old in WRITTEN_BEFORE.items():
        if name in ("ChangeEvent", "Command", "EntityState"):
            assert codec(name).fingerprint.hex() not in old


def test_a_payment_on_account_round_trips_in_every_record_that_carries_one():
    on_account = {**PAID, "invoice_key": None}
    c = codec("Payment")
    assert c.loads(c.dumps(on_account)) == on_account
    state = {"entity_key": "payment/holded/P2", "entity": "payment", "record": on_account,
             "deleted": False, "vector": {"holded": 1}, "provenance": {}}
    assert codec("EntityState").loads(codec("EntityState").dumps(state))["record"] == on_account
    assert table_codec("EntityState").loads(
        table_codec("EntityState").dumps(state))["record"] == on_account
