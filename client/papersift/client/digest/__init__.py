"""The personalised digest email: each subscriber's papers of a day, mailed at most once.

The pieces, each usable alone:

- :mod:`~papersift.client.digest.subscribers`: read and check a CSV or JSON Lines subscriber
  file, reporting every bad row as ``FILE:LINE: field: problem``.
- :mod:`~papersift.client.digest.shard`: split subscribers by a stable hash of their user id.
- :mod:`~papersift.client.digest.render`: build the ``multipart/alternative`` message from
  Jinja2 templates (the ``[digest]`` extra, imported on first use).
- :mod:`~papersift.client.digest.smtp` and :mod:`~papersift.client.digest.outbox`: deliver
  messages over SMTP, or write them as ``.eml`` files.
- :mod:`~papersift.client.digest.job`: the job that ties them to the service, exactly once.

Typical use::

    subscribers = load_subscribers("subscribers.csv").subscribers
    with Client(address) as client, SmtpSender(parse_smtp_url(url)) as sender:
        report = run_digest(client, sender, subscribers, DigestOptions(date=day))
"""

from papersift.client.digest.job import (
    DigestOptions,
    EmptyReason,
    JobReport,
    Outcome,
    SubscriberResult,
    run_digest,
)
from papersift.client.digest.outbox import Outbox
from papersift.client.digest.render import DigestStyle, message_id, render_digest
from papersift.client.digest.shard import Shard, parse_shard, shard_of
from papersift.client.digest.smtp import (
    DeliveryError,
    MailServerError,
    RetryPolicy,
    SmtpSender,
    SmtpSettings,
    parse_smtp_url,
)
from papersift.client.digest.subscribers import (
    Problem,
    Subscriber,
    SubscriberFile,
    SubscriberFileError,
    load_subscribers,
    parse_subscribers,
)

__all__ = [
    "DeliveryError",
    "DigestOptions",
    "DigestStyle",
    "EmptyReason",
    "JobReport",
    "MailServerError",
    "Outbox",
    "Outcome",
    "Problem",
    "RetryPolicy",
    "Shard",
    "SmtpSender",
    "SmtpSettings",
    "Subscriber",
    "SubscriberFile",
    "SubscriberFileError",
    "SubscriberResult",
    "load_subscribers",
    "message_id",
    "parse_shard",
    "parse_smtp_url",
    "parse_subscribers",
    "render_digest",
    "run_digest",
    "shard_of",
]
