"""python -m aiouring [--version] info [--json]"""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from . import info

    parser = argparse.ArgumentParser(prog="python -m aiouring",
                                     description="aiouring: an asyncio event loop on io_uring")
    parser.add_argument("--version", action="version", version=info.version_line())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    info.add_arguments(commands.add_parser("info", help="how aiouring was built and what "
                                           "this kernel lets it do", description=info.DESCRIPTION))
    args = parser.parse_args(argv)
    status: int = info.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
