"""Benchmark scripts; each is run as `.venv/bin/python bench/NAME.py` from the project root."""
