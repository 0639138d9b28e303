"""Benchmarks: a synthetic registry generated with COPY, and the nightly evaluation measured on it.

`make bench` runs `python -m benchmarks.evaluation` against its own PostgreSQL database
(crmo_bench); it is not part of `make test`.
"""
