"""The files every benchmark writes: a markdown table, the JSON data and (mostly) a plot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_results(
    out_dir: Path,
    name: str,
    *,
    markdown: str,
    data: Any,
    plot: Callable[[Path], object] | None = None,
) -> dict[str, Path]:
    """Write ``{name}.md``, ``{name}.json`` and, given ``plot``, ``{name}.png`` into ``out_dir``;
    their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / f"{name}.md", "json": out_dir / f"{name}.json"}
    paths["markdown"].write_text(markdown, encoding="utf-8")
    paths["json"].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if plot is not None:
        paths["plot"] = out_dir / f"{name}.png"
        plot(paths["plot"])
    return paths
