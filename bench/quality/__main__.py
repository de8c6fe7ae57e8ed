"""``python -m bench.quality``: see :mod:`bench.quality.run`."""

from bench.quality.run import main

raise SystemExit(main())
