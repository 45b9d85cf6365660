"""Benchmarks: a realistic synthetic GenImage corpus and side-by-side timings (see README.md)."""
