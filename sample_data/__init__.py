"""Synthetic, seeded sample data: the committed termly files and the benchmark files."""
