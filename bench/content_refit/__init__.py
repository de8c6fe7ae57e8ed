"""The content-refit benchmark: cached RankPapers latency while the content model refits.

Run ``python -m bench.content_refit`` from the repository root (``--help`` for the options);
:mod:`bench.content_refit.run` says what it does.
"""
