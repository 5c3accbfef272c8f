"""Benchmarks against the targets of DESIGN.md section 5; see benchmarks/README.md.

Each module runs as ``python -m benchmarks.NAME`` from the repository root, prints a table
and a one-line summary, and writes its results as JSON with ``--json PATH``.
"""
