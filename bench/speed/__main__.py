"""``python -m bench.speed``: see :mod:`bench.speed.run`."""

from bench.speed.run import main

# Guarded: the load generator's spawned processes import this module again.
if __name__ == "__main__":
    raise SystemExit(main())
