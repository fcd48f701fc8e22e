"""Benchmarks: `make bench`. Figures, not pass/fail tests; results in .deploylens/bench/results.json."""
