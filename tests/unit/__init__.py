"""Unit tests: no real workflow run (``make test-fast`` runs these, ``pytest -m "not e2e"`` selects the same)."""
