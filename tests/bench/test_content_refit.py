"""The content-refit benchmark's pure parts on fixed numbers: log parsing, statistics, report."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np

from bench.content_refit.report import (
    ConfigRun,
    IngestRun,
    Phase,
    RefitResults,
    markdown,
    parse_refits,
    refits_table,
    results_table,
    to_json,
    write,
)
from bench.content_refit.run import parse_args

LOG = """\
2026-12-01 15:36:29,492 INFO papersift.server.app: store ready; serving
2026-12-01 15:36:32,600 INFO papersift.server.content: content model content-4 fitted on 736 \
papers (12088 features) in 1.6 s
2026-12-01 15:36:33,001 INFO papersift.server.access: RankPapers OK 1.4 ms
2026-12-01 15:37:05,000 INFO papersift.server.content: content model content-34 fitted on 14818 \
papers (151234 features) in 17.5 s
"""
#: The times of LOG as Unix times (the log is in local time, as the server writes it).
T0 = dt.datetime(2026, 12, 1, 15, 36, 40).timestamp()  # the quarter's ingest starts


def phase(
    name: str, latencies: list[float], ended_at: float, checks: dict[str, int] | None = None
) -> Phase:
    return Phase(
        name,
        np.array(latencies, dtype=np.float64),
        seconds=3.0 if name == "quiet" else 20.0,
        checks=checks or {},
        ended_at=ended_at,
    )


def results() -> RefitResults:
    # Windows: quiet from -4.0 to -1.0 s, ingest from +0.5 to +20.5 s; the second refit ran
    # from +7.5 to +25.0 s, so it finished after the window.
    on = ConfigRun(
        "content model on",
        True,
        (
            phase("quiet", [1.0, 2.0, 3.0], T0 - 1.0, {"POPULAR cached": 3}),
            phase(
                "ingest",
                [*[1.5] * 99, 129.0],
                T0 + 20.5,
                {"POPULAR cached": 99, "POPULAR fresh": 1},
            ),
        ),
        parse_refits(LOG),
        IngestRun(4.2, 0, False, "read 14818 from papers.jsonl.gz", started_at=T0),
        caught_up=True,
    )
    off = ConfigRun(
        "content model off",
        False,
        (phase("quiet", [1.0], T0 + 99), phase("ingest", [], T0 + 120)),
        [],
        IngestRun(None, -15, True, started_at=T0 + 100),
    )
    return RefitResults(
        command="python -m bench.content_refit",
        configs=[on, off],
        setup={"seconds": 20.0, "quiet_seconds": 3.0, "machine": "test"},
        wall_seconds=61.0,
    )


def test_parse_refits_reads_every_fit_line() -> None:
    refits = parse_refits(LOG)
    assert [(r.version, r.papers, r.features, r.seconds) for r in refits] == [
        ("content-4", 736, 12088, 1.6),
        ("content-34", 14818, 151234, 17.5),
    ]
    assert refits[1].ended_at == T0 + 25.0
    assert refits[1].started_at == T0 + 7.5
    assert parse_refits("content model not fitted yet") == []


def test_phase_statistics_are_nearest_rank() -> None:
    busy = results().configs[0].phases[1]
    assert busy.calls == 100
    assert busy.ms(50) == 1.5
    assert busy.ms(99) == 1.5  # the 99th of 100 values: the one slow call is the max only
    assert busy.max_ms == 129.0
    assert busy.cached_share == 0.99
    assert busy.uncached == 1
    assert busy.started_at == T0 + 0.5
    empty = phase("ingest", [], T0)
    assert math.isnan(empty.ms(99)) and math.isnan(empty.max_ms)
    assert math.isnan(empty.cached_share)


def test_refits_count_for_the_windows_they_overlap() -> None:
    on = results().configs[0]
    quiet, busy = on.phases
    assert on.refits_during(quiet) == []
    assert [refit.version for refit in on.refits_during(busy)] == ["content-34"]


def test_table_has_a_row_per_configuration_and_phase() -> None:
    table = results_table(results()).splitlines()
    assert table[0].startswith("| configuration | phase | calls | p50 ms | p99 ms | max ms |")
    assert len(table) == 2 + 4
    assert table[2] == "| content model on | quiet | 3 | 2.00 | 3.00 | 3.00 | 0 | 0 | - |"
    assert table[3] == (
        "| content model on | during the quarter's ingest | 100 | 1.50 | 1.50 | 129.0 | 1 "
        "| 1 | 17.5* |"
    )
    assert table[5] == (
        "| content model off | during the quarter's ingest | 0 | - | - | - | - | - (off) | - |"
    )


def test_timeline_is_in_seconds_from_the_ingest() -> None:
    rows = refits_table(results().configs[0]).splitlines()[2:]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [
        "refit",  # content-4, at -9.0 s
        "window: quiet",
        "the quarter's ingest",
        "window: during the quarter's ingest",
        "refit",
    ]
    assert rows[0] == "| refit | content-4 | 736 | 12,088 | -9.0 | -7.4 | 1.6 |"
    assert rows[4] == "| refit | content-34 | 14,818 | 151,234 | +7.5 | +25.0 | 17.5 |"


def test_markdown_and_json_say_what_happened(tmp_path: Path) -> None:
    text = markdown(results())
    assert "content-4" in text and "Timeline, content model on:" in text
    assert "the quarter's ingest took 4.2 s (exit code 0)" in text
    assert "was still running when the 20 s window ended" in text
    data = to_json(results())
    json.dumps(data, allow_nan=False)  # nan is written as null
    on, off = data["configs"]
    assert off["phases"][1]["p99_ms"] is None and off["ingest"]["stopped"] is True
    assert [refit["during"] for refit in on["refits"]] == [[], ["ingest"]]
    paths = write(results(), tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "content_refit.json",
        "content_refit.md",
    ]
    assert paths["markdown"].read_text(encoding="utf-8") == text


def test_options_quick_and_defaults(tmp_path: Path) -> None:
    feed = tmp_path / "papers.jsonl.gz"
    feed.touch()
    files = ["--day-file", str(feed), "--quarter-file", str(feed)]
    default = parse_args(files)
    assert (default.seconds, default.quiet_seconds) == (25.0, 3.0)
    quick = parse_args(["--quick", *files])
    assert (quick.seconds, quick.quiet_seconds) == (5.0, 1.0)
    assert parse_args(["--quick", "--seconds", "8", *files]).seconds == 8.0
