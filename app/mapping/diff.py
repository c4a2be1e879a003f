"""What changed between two mapping documents, path by path (for review before publishing)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["diff"]


def diff(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """Lines ``+ path: value``, ``- path: value`` and ``~ path: old -> new``, in document order."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield f"- {sub}: {_show(old[key])}"
            elif key not in old:
                yield f"+ {sub}: {_show(new[key])}"
            else:
                yield from diff(old[key], new[key], sub)
    elif old != new:
        yield f"~ {path}: {_show(old)} -> {_show(new)}"


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."
