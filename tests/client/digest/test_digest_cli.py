"""`papersift digest` end to end: a real papersift server, real SMTP on loopback, real files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from papersift.client import Client, InteractionKind, RankFilters
from papersift.client.digest import DigestStyle, Subscriber, message_id, shard_of
from papersift.client.digest.job import _chunks
from tests.client.digest.conftest import (
    DAY,
    EMPTY_DAY,
    LATER_DAY,
    SUBSCRIBERS,
    CliRun,
    MailServer,
    day_papers,
    event,
    expected_rankings,
    run_cli,
    summary,
    text_of,
    write_csv,
    write_jsonl,
)
from tests.conftest import ThreadedServer

PREFS = "https://example.org/prefs?user={user_id}"
SENDER = "papersift <digest@papers.example.org>"

Digest = Callable[..., CliRun]


@pytest.fixture
def digest(capsys: pytest.CaptureFixture[str], papersift: str, mail_server: MailServer) -> Digest:
    """Runs ``papersift digest`` against the seeded server and (unless ``extra`` names
    ``--smtp`` or ``--outbox``) the SMTP server."""

    def run(
        subscribers: Path, *extra: str, date: str = DAY.isoformat(), server: str = papersift
    ) -> CliRun:
        return run_cli(
            capsys,
            *("--server", server, "--timeout", "5", "digest", "--date", date),
            *("--subscribers", str(subscribers), "--no-progress"),
            *("--from", SENDER, "--preferences-url", PREFS, "--smtp-retry-delay", "0.001"),
            *extra,
            *(() if {"--smtp", "--outbox"} & set(extra) else ("--smtp", mail_server.url)),
        )

    return run


def sent_digests(address: str, user_ids: list[str], day: str = DAY.isoformat()) -> set[str]:
    with Client(address) as client:
        return set(client.list_sent_digests(day, user_ids))


def test_each_subscriber_gets_their_papers_in_ranked_order(
    digest: Digest, papersift: str, mail_server: MailServer, tmp_path: Path
) -> None:
    # bob dismissed the day's most popular paper, so his list differs from the others'.
    with Client(papersift) as client:
        top = client.rank_papers("bob", DAY, limit=1).papers[0].paper
        client.record_interactions([event("bob", top, 1, InteractionKind.DISMISS)])
    subscribers = [dataclasses.replace(SUBSCRIBERS[0], limit=3), *SUBSCRIBERS[1:]]
    expected = {
        **expected_rankings(papersift, ["alice"], limit=3),
        **expected_rankings(papersift, ["bob", "carol"], limit=4),
    }
    assert expected["bob"] != expected["carol"]

    result = digest(write_csv(tmp_path / "subs.csv", subscribers), "--limit", "4")

    assert result.status == 0, result.err
    assert summary(result.out)["sent"] == 3
    assert mail_server.handler.connections == 1
    style = DigestStyle(sender=SENDER, preferences_url=PREFS)
    for subscriber in subscribers:
        [message] = mail_server.handler.to(subscriber.email)
        papers = expected[subscriber.user_id]
        prefs = f"https://example.org/prefs?user={subscriber.user_id}"
        assert message["Subject"] == f"Your papers for 2025-04-03: {len(papers)} picks"
        assert message["Message-ID"] == message_id(subscriber, DAY, style.sender)
        assert message["List-Unsubscribe"] == f"<{prefs}>"
        assert message.get_content_type() == "multipart/alternative"

        text = text_of(message, "plain")
        titles = re.findall(r"^\d+\. (.+)$", text, flags=re.MULTILINE)
        assert titles == [title for _, title, _ in papers]
        for _, _, reason in papers:
            assert f"Why: {reason}" in text
        html = text_of(message, "html")
        urls = [
            f"https://arxiv.org/abs/{paper_id.removeprefix('arxiv:')}" for paper_id, _, _ in papers
        ]
        assert re.findall(r'href="([^"]+)"', html) == [*urls, prefs]

    assert sent_digests(papersift, ["alice", "bob", "carol"]) == {"alice", "bob", "carol"}


def test_a_paper_the_reader_opened_saved_or_dismissed_today_is_not_in_their_digest(
    digest: Digest, papersift: str, mail_server: MailServer, tmp_path: Path
) -> None:
    with Client(papersift) as client:
        top = [r.paper for r in client.rank_papers("alice", DAY, limit=3).papers]
        # That morning, before the digest goes out, alice opens, saves and dismisses a paper.
        morning = dt.datetime.combine(DAY, dt.time(7), dt.UTC)
        kinds = (InteractionKind.CLICK, InteractionKind.SAVE, InteractionKind.DISMISS)
        client.record_interactions(
            [
                dataclasses.replace(event("alice", paper, n, kind), occurred_at=morning)
                for n, (paper, kind) in enumerate(zip(top, kinds, strict=True))
            ]
        )
    touched = {paper.paper_id for paper in top}
    # Without exclude_touched the day's own clicks and saves would be mailed.
    seen_only = expected_rankings(papersift, ["alice"], filters=RankFilters(exclude_seen=True))
    assert {top[0].paper_id, top[1].paper_id} <= {pid for pid, _, _ in seen_only["alice"]}
    expected = expected_rankings(papersift, ["alice", "bob"])
    assert not touched & {pid for pid, _, _ in expected["alice"]}

    result = digest(write_csv(tmp_path / "subs.csv", SUBSCRIBERS[:2]))

    assert result.status == 0, result.err
    alice = text_of(mail_server.handler.to("alice@example.org")[0], "plain")
    bob = text_of(mail_server.handler.to("bob@example.org")[0], "plain")
    mailed = {
        reader: re.findall(r"^\d+\. (.+)$", text, re.MULTILINE)
        for reader, text in (("alice", alice), ("bob", bob))
    }
    assert mailed["alice"] == [title for _, title, _ in expected["alice"]]
    assert not {paper.title for paper in top} & set(mailed["alice"])
    assert {paper.title for paper in top} <= set(mailed["bob"])  # bob touched none of them


def test_a_rerun_sends_nothing_twice(
    digest: Digest, mail_server: MailServer, tmp_path: Path
) -> None:
    subscribers = write_csv(tmp_path / "subs.csv", SUBSCRIBERS)
    assert digest(subscribers).status == 0
    assert len(mail_server.handler.received) == 3

    again = digest(subscribers)
    assert again.status == 0
    assert len(mail_server.handler.received) == 3
    assert summary(again.out)["skipped (already sent)"] == 3

    dave = Subscriber("dave", "dave@example.org")
    more = digest(write_csv(tmp_path / "more.csv", [*SUBSCRIBERS, dave]))
    assert (summary(more.out)["sent"], summary(more.out)["skipped (already sent)"]) == (1, 3)
    assert [r.recipients for r in mail_server.handler.received[3:]] == [["dave@example.org"]]


def test_a_4xx_is_retried_then_delivered(
    digest: Digest, mail_server: MailServer, tmp_path: Path
) -> None:
    mail_server.handler.script["bob@example.org"] = ["451 4.3.0 try later"]
    result = digest(write_csv(tmp_path / "subs.csv", SUBSCRIBERS))
    assert result.status == 0, result.out
    assert mail_server.handler.rcpt_attempts["bob@example.org"] == 2
    assert len(mail_server.handler.to("bob@example.org")) == 1
    assert summary(result.out)["sent"] == 3


def test_a_5xx_fails_one_subscriber_and_the_others_get_theirs(
    digest: Digest, papersift: str, mail_server: MailServer, tmp_path: Path
) -> None:
    mail_server.handler.refuse["bob@example.org"] = "550 5.1.1 no such user"
    subscribers = write_csv(tmp_path / "subs.csv", SUBSCRIBERS)
    result = digest(subscribers)

    assert result.status == 1
    assert "failed: bob <bob@example.org>: refused: 550 5.1.1 no such user" in result.out
    assert (summary(result.out)["sent"], summary(result.out)["failed"]) == (2, 1)
    assert [len(mail_server.handler.to(s.email)) for s in SUBSCRIBERS] == [1, 0, 1]
    assert sent_digests(papersift, ["alice", "bob", "carol"]) == {"alice", "carol"}

    # Once the mailbox exists again, a re-run mails bob alone.
    del mail_server.handler.refuse["bob@example.org"]
    assert digest(subscribers).status == 0
    assert [len(mail_server.handler.to(s.email)) for s in SUBSCRIBERS] == [1, 1, 1]


def test_a_bad_subscriber_file_is_rejected_with_line_numbers(
    digest: Digest, mail_server: MailServer, tmp_path: Path
) -> None:
    path = tmp_path / "subs.jsonl"
    write_jsonl(
        path,
        [
            {"user_id": "alice", "email": "alice@example.org"},
            {"user_id": "bob", "email": "bob(at)example.org"},
            {"user_id": "carol", "email": "carol@example.org", "limit": 500},
            {"user_id": "alice", "email": "alice@example.net"},
        ],
    )
    result = digest(path)
    assert result.status == 2
    assert result.err.splitlines() == [
        f"error: {path}:2: email: 'bob(at)example.org' is not an email address like "
        "reader@example.org",
        f"error: {path}:3: limit: must be 1 to 100, got 500",
        f"error: {path}:4: user_id: 'alice' repeats line 1",
        f"error: 3 bad rows in {path}; nothing was sent (fix them, or pass --skip-invalid "
        "to send to the other rows)",
    ]
    assert mail_server.handler.received == []

    skipped = digest(path, "--skip-invalid")
    assert skipped.status == 0
    assert f"warning: {path}:3: limit: must be 1 to 100, got 500" in skipped.err
    assert (summary(skipped.out)["sent"], summary(skipped.out)["invalid"]) == (1, 3)
    assert [r.recipients for r in mail_server.handler.received] == [["alice@example.org"]]


def test_shards_partition_the_subscribers(
    digest: Digest, mail_server: MailServer, tmp_path: Path
) -> None:
    readers = [Subscriber(f"reader-{n}", f"reader-{n}@example.org") for n in range(12)]
    subscribers = write_csv(tmp_path / "subs.csv", readers)
    shards = []
    for index in range(3):
        before = len(mail_server.handler.received)
        assert digest(subscribers, "--shard", f"{index}/3").status == 0
        shards.append({r.recipients[0] for r in mail_server.handler.received[before:]})
        expected = {s.email for s in readers if shard_of(s.user_id, 3) == index}
        assert shards[-1] == expected
    assert set().union(*shards) == {s.email for s in readers}
    assert sum(len(shard) for shard in shards) == len(readers)


def test_a_bad_shard_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    subscribers = write_csv(tmp_path / "subs.csv", SUBSCRIBERS)
    argv = ["digest", "--date", "2025-04-03", "--subscribers", str(subscribers)]
    with pytest.raises(SystemExit) as exited:
        run_cli(capsys, *argv, "--outbox", str(tmp_path), "--shard", "3/3")
    assert exited.value.code == 2
    assert "argument --shard: shard index must be 0 to 2 for 3 shards, got 3" in (
        capsys.readouterr().err
    )


def test_the_outbox_gets_one_parseable_eml_per_subscriber(
    digest: Digest, papersift: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    subscribers = write_csv(tmp_path / "subs.csv", SUBSCRIBERS)
    assert digest(subscribers, "--outbox", str(outbox)).status == 0

    files = sorted(outbox.iterdir())
    assert [path.name.split("_")[:2] for path in files] == [
        ["2025-04-03", "alice"],
        ["2025-04-03", "bob"],
        ["2025-04-03", "carol"],
    ]
    for path, subscriber in zip(files, SUBSCRIBERS, strict=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["To"].addresses[0].addr_spec == subscriber.email
        assert {part.get_content_type() for part in message.iter_parts()} == {
            "text/plain",
            "text/html",
        }
    assert sent_digests(papersift, ["alice", "bob", "carol"]) == {"alice", "bob", "carol"}
    assert digest(subscribers, "--outbox", str(outbox)).status == 0
    assert sorted(outbox.iterdir()) == files


def test_a_day_without_papers_is_reported_and_optionally_told(
    digest: Digest, papersift: str, mail_server: MailServer, tmp_path: Path
) -> None:
    subscribers = write_csv(tmp_path / "subs.csv", SUBSCRIBERS)
    quiet = digest(subscribers, date=EMPTY_DAY.isoformat())
    assert quiet.status == 0
    assert "empty: alice <alice@example.org>: no papers that day" in quiet.out
    assert (summary(quiet.out)["empty"], summary(quiet.out)["no papers that day"]) == (3, 3)
    assert mail_server.handler.received == []

    told = digest(subscribers, "--send-empty", date=EMPTY_DAY.isoformat())
    assert told.status == 0
    assert summary(told.out)["empty"] == 3
    [note] = mail_server.handler.to("alice@example.org")
    assert note["Subject"] == "Your papers for 2025-04-05: nothing new"
    assert "no papers were listed that day" in text_of(note, "plain")
    # The note counts as that day's digest: it is not sent again.
    again = digest(subscribers, "--send-empty", date=EMPTY_DAY.isoformat())
    assert summary(again.out)["skipped (already sent)"] == 3


def test_papers_already_mailed_are_not_mailed_again_on_a_later_day(
    digest: Digest, papersift: str, mail_server: MailServer, tmp_path: Path
) -> None:
    assert digest(write_csv(tmp_path / "subs.csv", SUBSCRIBERS)).status == 0
    # The next day lists the same papers again, from another source.
    relisted = [
        dataclasses.replace(paper, paper_id=f"hf:{paper.paper_id}", date=LATER_DAY, source="hf")
        for paper in day_papers()
    ]
    with Client(papersift) as client:
        client.upsert_papers(relisted)
    dave = Subscriber("dave", "dave@example.org")

    later = digest(write_csv(tmp_path / "more.csv", [*SUBSCRIBERS, dave]), date="2025-04-04")

    assert later.status == 0
    table = summary(later.out)
    assert (table["sent"], table["every paper already shown or filtered out"]) == (1, 3)
    assert "empty: carol <carol@example.org>: every paper already shown" in later.out
    assert len(mail_server.handler.to("alice@example.org")) == 1
    assert len(mail_server.handler.to("dave@example.org")) == 1


def test_an_unreachable_service_sends_nothing_and_fails(
    digest: Digest, closed_address: str, mail_server: MailServer, tmp_path: Path
) -> None:
    result = digest(write_csv(tmp_path / "subs.csv", SUBSCRIBERS), server=closed_address)
    assert result.status == 1
    assert summary(result.out)["service unreachable"] == 3
    assert "empty: alice <alice@example.org>: service unreachable (" in result.out
    assert mail_server.handler.received == []


def test_an_unreachable_mail_server_stops_the_job(
    digest: Digest, papersift: str, tmp_path: Path, closed_address: str
) -> None:
    subscribers = write_csv(tmp_path / "subs.csv", SUBSCRIBERS)
    nobody = f"smtp://{closed_address}"
    stopped = digest(subscribers, "--smtp-attempts", "2", "--smtp", nobody)
    assert stopped.status == 1
    assert summary(stopped.out)["failed"] == 3
    assert "cannot reach the mail server smtp://127.0.0.1" in stopped.out
    assert sent_digests(papersift, ["alice", "bob", "carol"]) == set()


def test_a_digest_that_cannot_be_recorded_stops_the_job(
    capsys: pytest.CaptureFixture[str],
    start_server: Callable[..., ThreadedServer],
    mail_server: MailServer,
    tmp_path: Path,
) -> None:
    server = start_server()
    with Client(server.address) as client:
        client.upsert_papers(day_papers())
    # The store goes away between the mail server's acceptance and the recording.
    mail_server.handler.on_accept = server.stop
    result = run_cli(
        capsys,
        *("--server", server.address, "--timeout", "2", "digest", "--date", "2025-04-03"),
        *("--subscribers", str(write_csv(tmp_path / "subs.csv", SUBSCRIBERS))),
        *("--smtp", mail_server.url, "--no-progress"),
    )
    assert result.status == 1
    assert len(mail_server.handler.received) == 1
    assert "failed: alice <alice@example.org>: mailed, but recording it failed" in result.out
    assert "a re-run mails it again with the same Message-ID" in result.out
    assert "failed: bob <bob@example.org>: not sent: the job stopped" in result.out


def test_chunks_respect_the_batch_limits() -> None:
    readers = [Subscriber(f"r{n}", f"r{n}@example.org") for n in range(1200)]
    readers[0] = dataclasses.replace(readers[0], limit=100)
    chunks = [(limit, len(chunk)) for limit, chunk in _chunks(readers, 10)]
    assert chunks == [(100, 1), (10, 500), (10, 500), (10, 199)]
    assert [len(chunk) for _, chunk in _chunks(readers[1:], 1)] == [1000, 199]


def test_the_cli_imports_without_jinja2() -> None:
    script = (
        "import sys\n"
        "sys.modules['jinja2'] = None  # as if the [digest] extra were not installed\n"
        "from papersift.client.cli import main\n"
        "status = main(['digest', '--date', '2025-04-03', '--subscribers', 'x.csv',"
        " '--outbox', 'out'])\n"
        "print(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout == "1\n"
    assert "install it with: pip install 'papersift[digest]'" in result.stderr
