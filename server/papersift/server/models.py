"""The model the server ranks with, and its hot reload.

The loaded bundle is one reference: a request takes it once and uses it to the end, so swapping
in a new bundle never disturbs a request in flight. A bundle that fails its checks is refused,
logged once, and the old one keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from papersift.core.bundle import (
    BundleError,
    BundleUnreadable,
    ModelBundle,
    current_version,
    load_version,
)
from papersift.server.metrics import record_model

logger = logging.getLogger(__name__)


class ModelHolder:
    """Holds the current model bundle and swaps in a newly published one."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.current: ModelBundle | None = None
        self._refused: set[str] = set()

    async def refresh(self) -> bool:
        """Load the bundle ``CURRENT`` points at if it is new; return whether the model changed."""
        version = await asyncio.to_thread(current_version, self.model_dir)
        loaded = self.current.version if self.current else None
        if version is None or version == loaded or version in self._refused:
            return False
        kept = f"keeping model {loaded}" if loaded else "no model loaded; ranking POPULAR"
        try:
            bundle = await asyncio.to_thread(load_version, self.model_dir, version)
        except BundleUnreadable as exc:  # may pass: try again at the next poll
            logger.warning("cannot read model bundle %s yet: %s; %s", version, exc, kept)
            return False
        except BundleError as exc:
            self._refused.add(version)
            logger.error("refused model bundle %s: %s; %s", version, exc, kept)
            return False
        self.current = bundle
        self.publish_metrics(previous=loaded)
        logger.info("loaded model %s from %s", version, bundle.path)
        return True

    def publish_metrics(self, previous: str | None = None) -> None:
        """Set the model version and age metrics from the loaded bundle."""
        bundle = self.current
        if bundle is None:
            return
        record_model(bundle.version, previous, bundle.manifest.trained_at.timestamp())

    async def watch(self, interval: float) -> None:
        """Check for a newly published bundle every ``interval`` seconds, forever."""
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self.refresh():
                    self.publish_metrics()  # the age grows between reloads
            except OSError as exc:  # e.g. the model volume is briefly unavailable
                logger.warning("cannot read %s: %s", self.model_dir, exc)
            except Exception:  # the watch must outlive any surprise; the old model keeps serving
                logger.exception("checking %s for a new model failed", self.model_dir)
