"""``python -m bench.content_refit``: see :mod:`bench.content_refit.run`."""

from bench.content_refit.run import main

# Guarded: the load generator's spawned process imports this module again.
if __name__ == "__main__":
    raise SystemExit(main())
