"""python -m aiouring.bpf build prog.c [more.c ...] [-o OUT] [--native-only]

Builds user chain programs into a bundle for loop.bpf.register(OUT); see
aiouring.bpf.build and docs/chain-programs.md. Also:

python -m aiouring.bpf header    prints the directory holding chain.h
"""

import argparse
import json
import os
import sys

from .build import BuildError, HEADER_DIR, MANIFEST, build


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m aiouring.bpf",
                                     description="aiouring chain programs")
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="compile chain programs into a bundle")
    b.add_argument("sources", nargs="+", metavar="SOURCE.c")
    b.add_argument("-o", "--output", help="the bundle directory (default: NAME.chain)")
    b.add_argument("--native-only", action="store_true",
                   help="no BPF object (loop-side only; no clang needed)")
    commands.add_parser("header", help="print the directory holding chain.h")
    args = parser.parse_args(argv)
    if args.command == "header":
        print(HEADER_DIR)
        return 0
    try:
        bundle = build(args.sources, args.output, native_only=args.native_only)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with open(os.path.join(bundle, MANIFEST)) as f:
        manifest = json.load(f)
    kinds = "native + BPF" if manifest["bpf"] else "native only"
    print(f"{bundle}: {', '.join(manifest['programs'])} ({kinds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
