"""The operator page as one server-rendered HTML document: no script, no external asset.

Every value comes from an external system or an operator and is escaped here, in one place
(``_e``); secrets that an error message may have echoed are masked before escaping.
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from app.operator_page.model import ConflictRow, DeadLetterRow, ParkedRow, Snapshot, SystemRow

__all__ = ["render_login", "render_message", "render_page"]

MASK = "**********"
STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{font-size:.85rem;word-break:break-all}
.flash{background:#e8f6e8;border:1px solid #7c7;padding:.5rem}
.error{background:#fbeaea;border:1px solid #d77;padding:.5rem}
.note{color:#666} form{display:inline}
"""


class _Text:
    """Escapes values and masks the settings' secrets in them."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, value: object) -> str:
        text = "-" if value is None else str(value)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return html.escape(text, quote=True)


def _doc(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
            f"</title><meta name=referrer content=same-origin><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>")


def _table(table_id: str, headers: Sequence[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p id="{table_id}-empty" class=note>{empty}</p>'
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _form(action: str, fields: dict[str, str], label: str, form_token: str | None, e: _Text) -> str:
    if form_token is None:
        return ""
    hidden = "".join(f'<input type=hidden name="{e(k)}" value="{e(v)}">'
                     for k, v in {**fields, "form_token": form_token}.items())
    return f'<form method=post action="{e(action)}">{hidden}<button type=submit>{e(label)}</button></form>'


def _conflict(c: ConflictRow, token: str | None, e: _Text) -> str:
    taken = "incoming" if c.decision == "took_incoming" else "canonical"
    actions = "".join(_form("/operator/conflicts/override", {"conflict_id": c.conflict_id, "take": side},
                            f"take {side} ({system})", token, e)
                      for side, system in (("canonical", c.canonical_system),
                                           ("incoming", c.incoming_system)) if side != taken)
    now = f"<code>{e(c.current_value)}</code> <span class=note>({e(c.current_system)})</span>" \
        if c.current_value is not None else "-"
    return (f'<tr data-conflict="{e(c.conflict_id)}"><td><code>{e(c.conflict_id[:12])}</code><br>'
            f'{e(c.time)}</td><td>{e(c.entity_key)}</td><td>{e(c.field)}</td>'
            f'<td>{e(c.canonical_system)}: <code>{e(c.canonical_value)}</code></td>'
            f'<td>{e(c.incoming_system)}: <code>{e(c.incoming_value)}</code></td>'
            f'<td>{e(c.decision)}<br><span class=note>policy {e(c.policy)}</span></td>'
            f'<td class=current>{now}</td><td>{actions}</td></tr>')


def _parked(p: ParkedRow, token: str | None, e: _Text) -> str:
    action = _form("/operator/parked/redrive", {"system": p.system, "command_id": p.command_id},
                   "re-drive", token, e)
    return (f'<tr data-command="{e(p.command_id)}"><td>{e(p.system)}</td><td>{e(p.entity_key)}</td>'
            f'<td><code>{e(p.command_id[:12])}</code> {e(p.op)}</td><td>{e(p.reason)}</td>'
            f'<td class=parked-at>{e(p.parked_at)}</td><td class=times>{p.times_parked}</td>'
            f'<td>{action}</td></tr>')


def _dead(d: DeadLetterRow, token: str | None, e: _Text) -> str:
    action = _form("/operator/dlq/redrive", {"ref": d.ref}, "re-drive", token, e)
    return (f'<tr data-ref="{e(d.ref)}"><td>{d.n}</td><td>{e(d.time)}</td><td>{e(d.error)}</td>'
            f'<td>{e(d.source)}</td><td>{e(d.key)}</td><td>{e(d.reason)}</td>'
            f'<td class=status>{e(d.command_status)}</td><td>{action}</td></tr>')


def _system(s: SystemRow, e: _Text) -> str:
    quota = (f"{s.calls_last_minute} / {s.allowed_per_minute} "
             f"({100 * s.calls_last_minute // s.allowed_per_minute}%)"
             if s.allowed_per_minute else f"{s.calls_last_minute} (no configured rate)")
    poll = "-" if s.last_poll is None else (
        f"{e(s.last_poll)} ok" if s.last_poll_ok else f"{e(s.last_poll)} failed: {e(s.last_poll_error)}")
    last = "-" if s.last_status is None else f"{s.last_status} at {e(s.last_call)}"
    return (f'<tr data-system="{e(s.system)}"><td>{e(s.system)}</td><td>{last}</td><td>{poll}</td>'
            f'<td>{s.api_calls}</td><td>{s.rate_limited}</td><td>{quota}</td></tr>')


def _newest(shown: int, total: int) -> str:
    return f" (newest {shown} of {total})" if total > shown else ""


def render_page(snap: Snapshot, *, form_token: str | None, flash: str | None = None,
                secrets: Iterable[str] = (), read_only_reason: str | None = None) -> str:
    """The whole page; ``form_token`` None renders it read-only (no action forms)."""
    e = _Text(secrets)
    parts = ["<h1>holded-sync operator</h1>",
             f'<p class=note>Read from Kafka at {e(snap.read_at)}. <a href="/operator">Reload</a></p>']
    if flash:
        parts.append(f'<p id=flash class=flash>{e(flash)}</p>')
    if read_only_reason:
        parts.append(f'<p class=note id=read-only>Read-only: {e(read_only_reason)}</p>')
    parts += [f"<h2>Conflicts{_newest(len(snap.conflicts), snap.conflicts_total)}</h2>",
              "<p class=note>An override publishes an operator change that makes the chosen "
              "side's value win (as <code>holded-sync conflicts resolve</code>).</p>",
              _table("conflicts", ["id / source time", "entity", "field", "canonical", "incoming",
                                   "decision", "value now", "override"],
                     [_conflict(c, form_token, e) for c in snap.conflicts], "No conflicts."),
              "<h2>Parked commands</h2>",
              _table("parked", ["system", "entity", "command", "reason", "last parked", "times",
                                ""], [_parked(p, form_token, e) for p in snap.parked],
                     "No parked commands."),
              f"<h2>Dead letters{_newest(len(snap.dead_letters), snap.dead_letters_total)}</h2>",
              _table("dlq", ["n", "time", "error", "source", "key", "reason",
                             "command now", ""], [_dead(d, form_token, e) for d in snap.dead_letters],
                     "No dead letters."),
              "<h2>Systems</h2><p class=note>This worker's view since it started; quota is "
              "API calls in the last minute against the configured rate.</p>",
              _table("systems", ["system", "last API answer", "last poll", "API calls", "429s",
                                 "quota (last minute)"], [_system(s, e) for s in snap.systems],
                     "No systems configured.")]
    return _doc("holded-sync operator", "".join(parts))


def render_login(error: str | None = None) -> str:
    err = f'<p class=error id=error>{html.escape(error)}</p>' if error else ""
    return _doc("holded-sync operator: sign in", (
        f"<h1>holded-sync operator</h1>{err}<form method=post action=/operator/login>"
        "<label>Operator token <input type=password name=token autocomplete=current-password>"
        "</label> <button type=submit>Sign in</button></form>"))


def render_message(title: str, message: str, secrets: Iterable[str] = ()) -> str:
    e = _Text(secrets)
    return _doc(f"holded-sync operator: {title}",
                f'<h1>{e(title)}</h1><p class=error id=error>{e(message)}</p>'
                '<p><a href="/operator">Back to the operator page</a></p>')
