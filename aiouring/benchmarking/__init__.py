"""Benchmarks of async code as pytest-asyncio tests, on each selected loop.

`measure` times a coroutine function (or a plain callable) on the running
loop; `summary` reduces the samples to statistics; `results` keeps each
benchmark's outcome per loop; `fixture` is the `abenchmark` object a test
awaits; `pytest_benchmark_bridge` feeds the results to pytest-benchmark
when it is loaded; `report` prints and saves the per-loop comparison;
`plugin` wires these into pytest (loaded by aiouring's pytest plugin).
"""
