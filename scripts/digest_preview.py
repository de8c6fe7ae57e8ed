"""`make digest-preview`: render one real digest from the demo data, as HTML and a screenshot.

Sets up what `make demo` sets up (a server on SQLite, the sample days ingested, the demo
readers' clicks and saves, a trained model), ranks alice's papers of the cold third day the
way the digest job does (`RankPapersBatch`, unseen papers only, with reasons), and writes:

- .demo/digest-preview/digest.html  the HTML part, as a mail client would get it
- .demo/digest-preview/digest.eml   the whole message (text and HTML parts)
- .demo/digest-preview/digest.png and digest-phone.png  screenshots, when Chromium is installed

Nothing is mailed and nothing is recorded: the preview can be run any number of times.
Run from the repository root: `python -m scripts.digest_preview`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from papersift.client import Client, RankFilters
from papersift.client.digest import DigestStyle, Subscriber, render_digest
from scripts import demo

WORK = demo.ROOT / ".demo" / "digest-preview"
READER = Subscriber("alice", "alice@example.org", "Alice")
STYLE = DigestStyle(
    sender="papersift <digest@example.org>",
    preferences_url="https://example.org/preferences?user={user_id}",
)
LIMIT = 8
CHROMIUM = Path("/usr/bin/chromium")
# (file name, window width, window height): a desktop mail pane and a phone screen.
SCREENSHOTS = (("digest.png", 900, 1350), ("digest-phone.png", 400, 1750))


def screenshot(html: Path, png: Path, width: int, height: int) -> None:
    """Let headless Chromium draw ``html`` into ``png`` at a ``width`` x ``height`` window."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--screenshot={png}", f"--window-size={width},{height}", html.as_uri(),
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def main() -> int:
    day = dt.date.fromisoformat(demo.DAY)
    with demo.serve(WORK) as server:
        demo.ingest_sample(server)
        demo.record_readers(server, WORK)
        demo.train(server, WORK)
        with Client(server.address) as client:
            rankings = client.rank_papers_batch(
                [READER.user_id],
                day,
                limit=LIMIT,
                filters=RankFilters(exclude_seen=True),
                explain=True,
            )
    ranking = rankings[READER.user_id]
    message = render_digest(READER, day, ranking.papers, STYLE)

    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = WORK / "digest.html"
    html.write_text(str(html_part.get_content()), encoding="utf-8")
    (WORK / "digest.eml").write_bytes(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    shown = html.relative_to(demo.ROOT)
    print(f"\n{message['Subject']} ({ranking.strategy.value} list of {READER.user_id})")
    print(f"wrote {shown} and {shown.with_suffix('.eml')}")

    if not CHROMIUM.exists():
        print(f"note: {CHROMIUM} is not installed, so no screenshot (apt-get install chromium)")
        return 0
    for name, width, height in SCREENSHOTS:
        png = WORK / name
        screenshot(html, png, width, height)
        print(f"wrote {png.relative_to(demo.ROOT)} ({width}x{height} window)")
    return 0


if __name__ == "__main__":
    os.chdir(demo.ROOT)
    if shutil.which("papersift", path=str(demo.BIN)) is None:
        sys.exit(f"papersift is not installed in {demo.BIN}; run `make venv` first")
    sys.exit(main())
