"""The library-suite harness (run it as: python tools/library_suites)."""
