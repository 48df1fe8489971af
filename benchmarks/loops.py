"""Create an event loop by name, inside a scenario process."""
import asyncio

NAMES = ("asyncio", "uvloop", "aiouring")


def new_loop(name):
    if name == "asyncio":
        return asyncio.new_event_loop()
    if name == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    if name == "aiouring":
        import aiouring
        return aiouring.new_event_loop()
    raise ValueError(f"unknown loop {name!r}; choose from {', '.join(NAMES)}")


def version(name):
    if name == "asyncio":
        import platform
        return "python " + platform.python_version()
    mod = __import__(name)
    return getattr(mod, "__version__", "?")


if __name__ == "__main__":
    # Probe used by the harness: can this loop be imported and created here?
    import sys
    new_loop(sys.argv[1]).close()
    print(version(sys.argv[1]))


def serve_for(loop, seconds, port, close):
    """A benchmark server's life: announce the port to the harness ("ready
    PORT"), run the loop for `seconds` at most, then close(), then the loop."""
    loop.call_later(seconds, loop.stop)
    print("ready", port, flush=True)
    try:
        loop.run_forever()
    finally:
        close()
        loop.close()
