"""Benchmarks of netimmutable against the limit and its peers: `python -m bench` (see docs/performance.md)."""
