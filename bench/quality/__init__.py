"""The quality benchmark: citeulike-t item cold start, in-matrix and new-user rankings.

Run ``python -m bench.quality`` from the repository root (``--help`` for the options). The
dataset loader and the fold protocol live in :mod:`bench.quality.citeulike` so experiments can
share them.
"""
