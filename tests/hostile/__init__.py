"""Hostile input: property-based tests of the feed parsers, request validation and the RPCs.

See ``tests/hostile/budget.py`` for the CI budget and how to run a longer fuzz.
"""
