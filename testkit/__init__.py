"""Shared by the tests and the benchmarks (neither imports the other): factories and a
statement counter."""
