"""Drop-in use: existing asyncio code, run on aiouring's loop."""
import asyncio

import aiouring


async def main() -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.01)
    result = await loop.run_in_executor(None, sum, range(10))
    print(type(loop).__name__, result)


# Python 3.12+: asyncio.run(main(), loop_factory=aiouring.new_event_loop)
with asyncio.Runner(loop_factory=aiouring.new_event_loop) as runner:
    runner.run(main())
