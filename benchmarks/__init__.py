"""Event loop benchmarks: asyncio vs uvloop vs aiouring.

    python -m benchmarks [SCENARIO ...] [--quick] [--loops asyncio,uvloop,aiouring]
                         [--scenarios call_soon,sleep0,sock_echo] [--runs N]
                         [--duration S] [--json out.json]
    python -m benchmarks sock_echo --loop aiouring

Every sample runs in a fresh process; loops are interleaved run by run so
machine noise hits all of them alike. Loops that fail to import are reported
as skipped. See benchmarks/harness.py.
"""
