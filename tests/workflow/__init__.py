"""End-to-end tests: each runs the Snakemake workflow for real; every test here is marked ``e2e`` (conftest)."""
