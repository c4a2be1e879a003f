"""A TCP proxy in front of a test's own broker that can hold back one client's produce
requests: the records a worker had handed to Kafka and that a SIGKILL lost in flight.

The broker advertises the proxy's port (``broker.start(advertised_port=...)``), so every
client's connections pass through it. Each request frame from a client is read whole (a
4-byte size, then a header of api key, version, correlation id and client id); once
:meth:`KafkaProxy.hold_produce` names a client id, that client's first Produce request is kept
and nothing more of its connection is forwarded. :meth:`KafkaProxy.drop` closes every
connection and throws the kept requests away, which is what a kill does to them. Fetches,
offset commits and heartbeats go on other connections and are never held.
"""
from __future__ import annotations

import asyncio
import contextlib
import struct

__all__ = ["KafkaProxy"]

PRODUCE = 0  # Kafka's api key of a Produce request


def _client_id(header: bytes) -> str | None:
    (length,) = struct.unpack_from(">h", header, 8)
    return None if length < 0 else header[10:10 + length].decode("utf-8", "replace")


class KafkaProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``upstream`` (the broker's listener)."""

    def __init__(self, port: int, upstream: int) -> None:
        self.port, self.upstream = port, upstream
        self.held: list[bytes] = []  # produce requests kept back
        self._hold_client: str | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> KafkaProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    def hold_produce(self, client_id: str | None) -> None:
        """From now on keep ``client_id``'s first Produce request and stall its connection
        (None: hold nothing)."""
        self._hold_client = client_id

    def drop(self) -> None:
        """Close every connection; the requests held are never delivered."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, broker_w}
        for pump in (self._requests(client_r, broker_w), self._responses(broker_r, client_w)):
            task = asyncio.ensure_future(pump)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
            while True:
                size = await reader.readexactly(4)
                frame = await reader.readexactly(struct.unpack(">i", size)[0])
                (api_key,) = struct.unpack_from(">h", frame, 0)
                if (api_key == PRODUCE and self._hold_client is not None
                        and _client_id(frame) == self._hold_client):
                    self.held.append(frame)
                    await asyncio.Event().wait()  # stalled until drop() closes the connection
                writer.write(size + frame)
                await writer.drain()
        writer.transport.abort()

    async def _responses(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
