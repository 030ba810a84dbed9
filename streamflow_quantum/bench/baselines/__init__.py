"""The baselines benchmarks measure the product against."""
