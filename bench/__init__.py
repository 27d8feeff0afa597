"""Benchmarks of the plugin's overhead against floors measured in the same run (see bench/README.md)."""
