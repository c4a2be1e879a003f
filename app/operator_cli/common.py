"""What the operator commands share: the CLI context, broker errors, times, tables and JSON.

Exit codes follow app/cli.py: 0 ok, 1 nothing found / the work found problems, 2 bad usage
(invalid key, time, number...), 3 Kafka unreachable.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import click

__all__ = ["OPERATOR", "OperatorError", "broker", "decoder", "emit", "fail", "iso", "json_form",
           "json_option", "ms", "note_empty", "parse_key", "parse_since", "run", "settings_of",
           "short", "vector_text"]

OPERATOR = "operator"


class OperatorError(Exception):
    """A request the operator must correct (unknown id, ambiguous prefix...), with the CLI's
    exit code; the CLI prints it, the operator page shows it."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message, self.code = message, code


# ---------------------------------------------------------------- shared helpers

def settings_of(ctx: click.Context):
    return ctx.obj["settings"]


def broker(settings) -> contextlib.AbstractContextManager[None]:
    """app.cli's: no broker is one line and exit code 3 (imported late: app.cli loads us)."""
    from app.cli import _broker_errors

    return _broker_errors(settings)


def run(ctx: click.Context, coro_fn: Callable[[], Any]) -> Any:
    settings = settings_of(ctx)
    with broker(settings):
        try:
            return asyncio.run(coro_fn())
        except OperatorError as exc:
            fail(exc.message, exc.code)


def note_empty(ctx: click.Context, what: str, topic: str, present: str | None = "") -> None:
    """Nothing to list: say why on stderr (the topic is missing: a mistyped prefix? or empty),
    as `tables` does; stdout stays empty for pipes."""
    from app.cli import explain_empty

    settings = settings_of(ctx)
    with broker(settings):
        explain_empty(settings, what, topic, present)


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def iso(millis: int | None) -> str:
    if millis is None or millis < 0:
        return "-"
    return dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ms(value: Any) -> int:
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return int(value)


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None) -> int | None:
    """``--since``: RFC 3339 / ISO date-time (UTC when no zone), a date, or ``30m``/``2h``/``7d``."""
    if text is None:
        return None
    m = _RELATIVE.match(text.strip())
    if m:
        return int((time.time() - int(m.group(1)) * _UNITS[m.group(2)]) * 1000)
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since {text!r} is not a time (use 2026-03-01T10:00:00Z, 2026-03-01, 30m, 2h, 7d)", 2)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def parse_key(text: str) -> str:
    from app.core.keys import EntityKey, KeyError_

    try:
        return str(EntityKey.parse(text))
    except KeyError_ as exc:
        fail(str(exc), 2)


def vector_text(v: dict | None) -> str:
    return ",".join(f"{k}:{v[k]}" for k in sorted(v or {})) or "-"


def short(text: Any, width: int = 60) -> str:
    s = str(text)
    return s if len(s) <= width else s[:width - 1] + "…"


def emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    """JSON lines, or an aligned table of ``columns`` (values already short strings)."""
    from app.jsonform import to_json

    if as_json:
        for row in rows:
            click.echo(json.dumps(to_json(row["json"]), ensure_ascii=False, default=str))
        return
    if not rows:
        return
    cells = [[str(row["cols"].get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def decoder(name: str) -> Callable[[bytes], Any]:
    """Decode, or keep the undecodable bytes visible instead of stopping the command."""
    from app.avro import DecodeError, codec

    c = codec(name)

    def decode(data: bytes) -> Any:
        try:
            return c.loads(data)
        except DecodeError as exc:
            return {"_undecodable": str(exc), "_hex": data.hex()}
    return decode


def json_form(value: Any) -> Any:
    from app.jsonform import to_json
    return to_json(value)


json_option = click.option("--json", "as_json", is_flag=True,
                           help="JSON lines (one object per line) instead of a table.")

