"""How many examples each property tries: a fixed, reproducible budget in CI, more on demand.

CI (the default): every property runs a bounded number of examples, derandomized (the same
inputs on every run, so a failure reproduces), without the example database (nothing is
written into the checkout). The whole folder stays well under a minute.

A longer fuzz, run locally: set ``PAPERSIFT_FUZZ_EXAMPLES`` to the number of examples per
property. Inputs are then random (a new seed per run; hypothesis prints the seed and a
``@reproduce_failure`` blob when something fails), and pytest's per-test timeout must be lifted::

    PAPERSIFT_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/hostile --timeout 0 -x
    # replay a failing run:
    PAPERSIFT_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/hostile --timeout 0 --hypothesis-seed=N

Deadlines stay on in both modes: a parser or validator that takes seconds on one input (a
regular expression backtracking quadratically, an entity being expanded) fails as a hang.
"""

from __future__ import annotations

import datetime as dt
import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES_ENV = "PAPERSIFT_FUZZ_EXAMPLES"
"""Examples per property for a longer, randomized fuzz; unset or 0 means the CI budget."""

DEADLINE = dt.timedelta(seconds=2)
"""Longest one example of a pure function may take (each takes milliseconds)."""

_SLOW_INPUTS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


def fuzz_examples() -> int:
    """The examples per property asked for by ``PAPERSIFT_FUZZ_EXAMPLES`` (0: none asked)."""
    raw = os.environ.get(FUZZ_EXAMPLES_ENV, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{FUZZ_EXAMPLES_ENV} must be a whole number, got {raw!r}") from None
    return max(value, 0)


def budget(
    examples: int,
    *,
    deadline: dt.timedelta | None = DEADLINE,
    extra_checks: tuple[HealthCheck, ...] = (),
) -> settings:
    """Hypothesis settings for one property.

    Args:
        examples: Examples tried in CI (derandomized); ``PAPERSIFT_FUZZ_EXAMPLES`` replaces it.
        deadline: Longest one example may take; ``None`` for calls over the network, which are
            bounded by their gRPC timeout instead.
        extra_checks: Health checks to suppress besides the ones about large inputs (which are
            the point here), e.g. ``HealthCheck.function_scoped_fixture``.
    """
    fuzz = fuzz_examples()
    return settings(
        max_examples=fuzz or examples,
        derandomize=not fuzz,
        database=None,
        deadline=deadline,
        print_blob=True,
        suppress_health_check=[*_SLOW_INPUTS, *extra_checks],
    )
