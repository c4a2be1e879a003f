"""Warnings a worker logs once per run, however many records raise them.

Sinks are built per command (app/sinks.py), so a flag kept on a sink logs again for every
record. One :class:`LogOnce` is built with a worker's sink factory and shared by its sinks.
"""
from __future__ import annotations

import logging
from typing import Any

__all__ = ["LogOnce"]


class LogOnce:
    def __init__(self) -> None:
        self._said: set[str] = set()

    def warning(self, logger: logging.Logger, topic: str, message: str, *args: Any) -> None:
        """Log ``message`` unless a warning on ``topic`` was logged already."""
        if topic not in self._said:
            self._said.add(topic)
            logger.warning(message, *args)
