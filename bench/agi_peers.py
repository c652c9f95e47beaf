"""The FastAGI benchmark's peers, each run in its own process by bench/fastagi_bench.py:
panoramisk, and the bare asyncio floor. Each sends, per call, the AGI command lines our server
sent on a first call (a JSON list), reading one reply per line. This module imports nothing
from the product, so that the peers' RSS is theirs alone.

    python bench/agi_peers.py panoramisk|bare PORT_FILE COMMANDS_JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path


async def serve_panoramisk(port_file: Path, commands: list[str]) -> None:
    # lazy: panoramisk (a dev-only dependency) loads in the panoramisk peer only, so that the
    # bare peer's RSS is the floor's alone.
    from panoramisk.fast_agi import Application

    app = Application()

    async def handle(request: object) -> None:
        for command in commands:
            await request.send_command(command)  # type: ignore[attr-defined]

    app.add_route("hotline", handle)
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=4096)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240
    await asyncio.Event().wait()


async def serve_bare(port_file: Path, commands: list[str]) -> None:
    """The floor: read the header, write each command, read one reply line each."""
    encoded = [(c + "\n").encode() for c in commands]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\n", b""):
            pass
        for command in encoded:
            writer.write(command)
            if not await reader.readline():
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240
    await asyncio.Event().wait()


def main() -> int:
    kind, port_file, cmd_file = sys.argv[1:4]
    lines: list[str] = json.loads(Path(cmd_file).read_text())
    peer = {"panoramisk": serve_panoramisk, "bare": serve_bare}[kind]
    asyncio.run(peer(Path(port_file), lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
