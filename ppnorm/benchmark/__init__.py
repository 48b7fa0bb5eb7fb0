"""Speed and memory measurements behind tools/benchmark.py (ratios against a reference in the same process)."""
