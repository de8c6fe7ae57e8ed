"""``papersift-train``'s progress bar: one bar over every step of a run, not only the epochs.

The steps are those of :class:`papersift.training.pipeline.Progress` (featurising, each epoch,
the comparison, the refit's featurising and epochs, publishing); the bar's description names
the step running, its total shrinks when early stopping ends the epochs. Log records are
written above the bar instead of through it.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from papersift.training.pipeline import Progress

BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} steps [{elapsed}<{remaining}]{postfix}"


class ProgressBar:
    """A context manager whose :meth:`show` is the ``progress`` callback of ``train``."""

    def __init__(self, *, disable: bool = False) -> None:
        self.disable = disable
        self._bar: tqdm[Any] | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ProgressBar:
        if not self.disable:
            self._stack.enter_context(logging_redirect_tqdm())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()
        self._stack.close()

    def show(self, progress: Progress) -> None:
        """Move the bar to ``progress`` (opened at the first call, when the total is known)."""
        if self.disable:
            return
        if self._bar is None:
            self._bar = tqdm(
                total=progress.total, desc=progress.stage, unit="step", bar_format=BAR_FORMAT
            )
        bar = self._bar
        bar.total = progress.total
        bar.n = progress.done
        bar.set_description_str(progress.stage, refresh=False)
        recall = next(
            (
                (key.removeprefix("blend_"), value)
                for key, value in progress.metrics.items()
                if key.startswith("blend_recall@")
            ),
            None,
        )
        if recall is not None:
            bar.set_postfix_str(f"validation {recall[0]} {recall[1]:.3f}", refresh=False)
        bar.refresh()
