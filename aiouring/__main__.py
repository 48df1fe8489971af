"""python -m aiouring info [--json]"""

import sys

USAGE = "usage: python -m aiouring info [--json]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "info":
        print(USAGE, file=sys.stderr)
        return 2
    from .info import main as info_main
    status: int = info_main(argv[1:])
    return status



if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
