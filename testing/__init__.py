"""Helpers shared by the tests, and by the benchmarks and soaks that reuse them."""
