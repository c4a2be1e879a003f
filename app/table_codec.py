"""The canonical table's values: records of an Avro schema, stored as MessagePack.

The canonical agent reads and writes its table value on every decision, and fastavro spends
about 40 us on each EntityState or ReplicaSet it reads or writes: more than the decision
itself (docs/scaling.md). MessagePack's C codec does the same in 3-10 us. The events on the
topics stay Avro; only this table's values, which nobody outside the worker reads, change.

What Avro gave the table is kept:
- **The schema still rules.** A value is ``b"HM"``, the 8-byte fingerprint of the Avro schema
  version it was written for, then the record in that schema's wire form (app/avro.py's
  WIRE_FORMS). A value written for an earlier version (``schemas/history``) is read into
  today's shape by Avro's own resolution: written with its old schema, read with today's.
- **Values written before this codec** (Avro single-object or Confluent framed) are read as
  before, so a worker restores an older changelog without a replay.
- **Only plain data.** Decimals, dates and timestamps are the only extension types; anything
  else is refused when written and cannot be built when read (unlike pickle).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

import msgpack

from app.avro import AvroCodec, DecodeError, codec

__all__ = ["MAGIC", "TableCodec", "table_codec"]

MAGIC = b"HM"
_DECIMAL, _DATE, _TIMESTAMP = 1, 2, 3


def _extension(value: Any) -> msgpack.ExtType:
    if isinstance(value, Decimal):
        return msgpack.ExtType(_DECIMAL, str(value).encode())
    if isinstance(value, dt.datetime):  # before date: a datetime is a date too
        return msgpack.ExtType(_TIMESTAMP, value.isoformat().encode())
    if isinstance(value, dt.date):
        return msgpack.ExtType(_DATE, value.isoformat().encode())
    raise TypeError(f"{type(value).__name__} is not table data")


def _from_extension(code: int, data: bytes) -> Any:
    text = data.decode()
    if code == _DECIMAL:
        return Decimal(text)
    if code == _DATE:
        return dt.date.fromisoformat(text)
    if code == _TIMESTAMP:
        return dt.datetime.fromisoformat(text)
    raise ValueError(f"unknown extension type {code}")


_pack = msgpack.Packer(default=_extension, use_bin_type=True).pack


class TableCodec:
    """Encode/decode one record type of the table (``dumps``/``loads`` as AvroCodec's)."""

    def __init__(self, avro: AvroCodec) -> None:
        self.avro = avro
        self.name = avro.name
        self._header = MAGIC + avro.fingerprint

    def dumps(self, record: Mapping[str, Any]) -> bytes:
        try:
            return self._header + _pack(self.avro.to_wire(record))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"cannot encode {self.name}: {exc}") from exc

    def loads(self, data: bytes | None) -> dict[str, Any]:
        if not data or data[:2] != MAGIC:
            return self.avro.loads(data)  # written before this codec, or not ours at all
        try:
            record = msgpack.unpackb(data[10:], ext_hook=_from_extension, raw=False)
        except Exception as exc:  # msgpack raises many kinds on corrupt input
            raise DecodeError(f"corrupt {self.name} record: {exc.__class__.__name__}: {exc}"
                              ) from exc
        if not isinstance(record, dict):
            raise DecodeError(f"corrupt {self.name} record: not a map")
        fingerprint = data[2:10]
        if fingerprint != self.avro.fingerprint:
            record = self.avro.upgrade(record, fingerprint)
        return self.avro.from_wire(record)


@cache
def table_codec(name: str) -> TableCodec:
    return TableCodec(codec(name))
