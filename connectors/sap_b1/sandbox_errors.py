"""The SAP sandbox's error answer, apart so the store and its rule modules share it."""
from __future__ import annotations

from typing import Any

__all__ = ["SapError"]


class SapError(Exception):
    """An answer in SAP's error shape: HTTP ``status``, SL ``code``, message ``value``."""

    def __init__(self, status: int, code: int, value: str) -> None:
        super().__init__(value)
        self.status, self.code, self.value = status, code, value

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": {"lang": "en-us", "value": self.value}}}
