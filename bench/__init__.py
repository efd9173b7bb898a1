"""Benchmarks (not tests): each prints its figures and the ratio to a ceiling measured in the same run."""
