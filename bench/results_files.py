"""The three files every benchmark writes: a markdown table, the JSON data and a plot."""

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
    plot: Callable[[Path], object],
) -> dict[str, Path]:
    """Write ``{name}.md``, ``{name}.json`` and ``{name}.png`` into ``out_dir``; their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out_dir / f"{name}.md",
        "json": out_dir / f"{name}.json",
        "plot": out_dir / f"{name}.png",
    }
    paths["markdown"].write_text(markdown, encoding="utf-8")
    paths["json"].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    plot(paths["plot"])
    return paths
