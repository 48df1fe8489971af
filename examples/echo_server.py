"""A server: asyncio streams on aiouring's native transports (multishot
accept, multishot receive into provided buffers)."""
import asyncio

import aiouring


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main() -> None:
    async with await asyncio.start_server(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello over io_uring")
        print((await reader.readexactly(19)).decode())
        writer.write_eof()                  # the server's echo() sees EOF and ends
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()


aiouring.run(main())
