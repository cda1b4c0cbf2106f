"""A websocket feed in its own process, for faults a test cannot inject in its own loop.

    python ws_server.py flood COUNT     on each connection: COUNT messages as fast as the
                                        socket takes them, each a list of 20 records with
                                        sequence numbers; prints "sent N B" every 250
                                        messages (B: bytes still in its own write buffer)
    python ws_server.py steady          on each connection: {"n": i} every 20 ms, forever

Prints "port P" once listening on 127.0.0.1. A process of its own can be stopped with
SIGSTOP (it then answers nothing, pings included) and flooding here never steals time
from the consumer under test.
"""

from __future__ import annotations

import asyncio
import sys

import orjson
from websockets.asyncio.server import ServerConnection, serve

PER_MESSAGE = 20
PAD = "x" * 150


async def flood(ws: ServerConnection, count: int) -> None:
    for i in range(count):
        batch = [{"n": i * PER_MESSAGE + j, "pad": PAD} for j in range(PER_MESSAGE)]
        await ws.send(orjson.dumps(batch).decode())
        if (i + 1) % 250 == 0:
            # What the server process holds itself is not in flight to the consumer.
            print(f"sent {i + 1} {ws.transport.get_write_buffer_size()}", flush=True)
    print("done", flush=True)
    await ws.wait_closed()


async def steady(ws: ServerConnection) -> None:
    i = 0
    while True:
        await ws.send(orjson.dumps({"n": i}).decode())
        i += 1
        await asyncio.sleep(0.02)


async def main(argv: list[str]) -> None:
    mode = argv[1]
    count = int(argv[2]) if len(argv) > 2 else 0

    async def handler(ws: ServerConnection) -> None:
        if mode == "flood":
            await flood(ws, count)
        else:
            await steady(ws)

    # No compression: the flood must cost its real size on the wire.
    async with serve(handler, "127.0.0.1", 0, ping_interval=None, close_timeout=0.5, compression=None) as server:
        print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv))
    except KeyboardInterrupt:
        pass
