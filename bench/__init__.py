"""Benchmarks: ``salesflow bench <name> [--json]``. Each prints its figures; the figures and
the commands that produced them are kept in docs/benchmarks.md.

Benchmarks run in a scratch database created for the run (``test_<name>`` next to the
configured one) and dropped afterwards, so they never touch real data.
"""
