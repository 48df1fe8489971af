# Thin wrappers over tools/go, which does the set-up (apt, .venv, build).
#   make test [ARGS=...]   make bench [QUICK=1] [ARGS=...]
#   make build             make debug (AIOURING_DEBUG=1 build)
#   make clean             make distclean (also drops .venv)

.PHONY: test test-kernel bench build debug clean distclean

test:
	tools/go test $(ARGS)

test-kernel:
	tools/go test-kernel $(ARGS)

bench:
	tools/go bench $(if $(QUICK),--quick) $(ARGS)

build:
	tools/go build

# setup.py reads AIOURING_DEBUG (line tracing); tools/go forces the rebuild.
debug:
	AIOURING_DEBUG=1 tools/go build

# Only build outputs: Cython-generated C files are left to setup.py's owner.
clean:
	rm -rf build dist wheelhouse *.egg-info .pytest_cache benchmarks/.build
	rm -rf aiouring/_build_info.py aiouring/bpf/source
	find aiouring benchmarks tests tools -name '*.so' -delete 2>/dev/null || true
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf .venv
