"""Speed and quality measurements that print tables (results in docs/BENCHMARKS.md)."""
