"""Benchmarks: each ``bench_*.py`` compares imgkit against a named baseline in the same run."""
