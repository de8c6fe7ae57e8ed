"""Fault tests: real faults injected into a running server (see conftest.py)."""
