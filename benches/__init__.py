"""Benchmarks for the clinic phone system (run them as modules, e.g. ``python -m benches.webhook_bench``)."""
