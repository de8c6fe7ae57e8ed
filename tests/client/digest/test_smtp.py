"""SMTP sending against a real SMTP server on loopback: reuse, retries, failures, TLS, login."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from papersift.client.digest import (
    DeliveryError,
    MailServerError,
    RetryPolicy,
    SmtpSender,
    SmtpSettings,
    parse_smtp_url,
)
from tests.client.digest.conftest import MailServer, free_port

RETRY = RetryPolicy(attempts=4, initial_delay=0.5, max_delay=1.5)


def letter(to: str, number: int = 1) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "papersift <digest@example.org>"
    message["To"] = to
    message["Subject"] = f"letter {number}"
    message.set_content(f"body {number}\n")
    return message


class Sleeps:
    """Records the delays asked for instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# --- the URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", SmtpSettings("mail.example.org", 25)),
        (
            "smtp://mail.example.org:587?starttls=true&timeout=5",
            SmtpSettings("mail.example.org", 587, starttls="true", timeout=5.0),
        ),
        (
            "smtps://digest%40example.org:p%40ss@mail.example.org",
            SmtpSettings(
                "mail.example.org",
                465,
                implicit_tls=True,
                starttls="false",
                username="digest@example.org",
                password="p@ss",
            ),
        ),
        ("smtp://[::1]:2525?cafile=/etc/ca.pem", SmtpSettings("::1", 2525, cafile="/etc/ca.pem")),
    ],
)
def test_parse_smtp_url(url: str, expected: SmtpSettings) -> None:
    assert parse_smtp_url(url, environ={}) == expected


def test_login_comes_from_the_environment_unless_the_url_has_it() -> None:
    env = {"PAPERSIFT_SMTP_USER": "env-user", "PAPERSIFT_SMTP_PASSWORD": "env-secret"}
    from_env = parse_smtp_url("smtp://mail.example.org", environ=env)
    assert (from_env.username, from_env.password) == ("env-user", "env-secret")
    from_url = parse_smtp_url("smtp://url-user@mail.example.org", environ=env)
    assert (from_url.username, from_url.password) == ("url-user", "env-secret")


def test_the_password_is_never_shown() -> None:
    settings = parse_smtp_url("smtps://user:hunter2@mail.example.org", environ={})
    assert "hunter2" not in repr(settings)
    assert settings.display() == "smtps://user@mail.example.org:465"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.org", "must start with smtp:// or smtps://"),
        ("smtp://", "has no host"),
        ("smtp://mail.example.org:port", "is not a number"),
        ("smtp://mail.example.org/path", "must not have a path"),
        ("smtp://mail.example.org?tls=1", "unknown option 'tls'"),
        ("smtps://mail.example.org?starttls=true", "unknown option 'starttls'"),
        ("smtp://mail.example.org?starttls=maybe", "must be auto, true or false"),
        ("smtp://mail.example.org?timeout=0", "must be a number of seconds above 0"),
        ("smtp://:secret@mail.example.org", "a password is set but no user"),
    ],
)
def test_bad_urls_say_what_to_change(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_smtp_url(url, environ={})
    assert "secret" not in str(raised.value)


# --- sending --------------------------------------------------------------------------------


def test_one_connection_carries_every_message(mail_server: MailServer) -> None:
    with SmtpSender(parse_smtp_url(mail_server.url, environ={})) as sender:
        for number in range(3):
            sender.send(letter(f"reader{number}@example.org", number))
    assert [r.recipients for r in mail_server.handler.received] == [
        ["reader0@example.org"],
        ["reader1@example.org"],
        ["reader2@example.org"],
    ]
    assert mail_server.handler.connections == 1
    assert sender.connections == 1


def test_a_4xx_is_retried_with_doubling_delays(mail_server: MailServer) -> None:
    mail_server.handler.script["slow@example.org"] = ["451 4.3.0 try later"] * 2
    sleeps = Sleeps()
    with SmtpSender(parse_smtp_url(mail_server.url), retry=RETRY, sleep=sleeps) as sender:
        sender.send(letter("slow@example.org"))
    assert mail_server.handler.rcpt_attempts["slow@example.org"] == 3
    assert len(mail_server.handler.to("slow@example.org")) == 1
    assert sleeps.delays == [0.5, 1.0]


def test_a_4xx_on_every_attempt_fails_that_message_only(mail_server: MailServer) -> None:
    mail_server.handler.script["slow@example.org"] = ["452 4.2.2 mailbox full"] * 10
    sleeps = Sleeps()
    with SmtpSender(parse_smtp_url(mail_server.url), retry=RETRY, sleep=sleeps) as sender:
        with pytest.raises(DeliveryError) as raised:
            sender.send(letter("slow@example.org"))
        sender.send(letter("fine@example.org"))
    assert str(raised.value) == "not accepted after 4 attempts: 452 4.2.2 mailbox full"
    assert not raised.value.permanent
    assert sleeps.delays == [0.5, 1.0, 1.5]  # capped at max_delay
    assert len(mail_server.handler.to("fine@example.org")) == 1


def test_a_5xx_fails_at_once_and_the_connection_goes_on(mail_server: MailServer) -> None:
    mail_server.handler.refuse["gone@example.org"] = "550 5.1.1 no such user"
    sleeps = Sleeps()
    with SmtpSender(parse_smtp_url(mail_server.url), retry=RETRY, sleep=sleeps) as sender:
        with pytest.raises(DeliveryError) as raised:
            sender.send(letter("gone@example.org"))
        sender.send(letter("fine@example.org"))
    assert str(raised.value) == "refused: 550 5.1.1 no such user"
    assert raised.value.permanent and raised.value.attempts == 1
    assert sleeps.delays == []
    assert len(mail_server.handler.to("fine@example.org")) == 1
    assert mail_server.handler.connections == 1


def test_a_dropped_connection_is_reopened(start_mail_server: Callable[..., MailServer]) -> None:
    first = start_mail_server()
    sleeps = Sleeps()
    with SmtpSender(parse_smtp_url(first.url), retry=RETRY, sleep=sleeps) as sender:
        sender.send(letter("one@example.org"))
        # The server drops the idle session (as an idle timeout would) and is back at once.
        first.stop()
        second = start_mail_server(port=first.port)
        sender.send(letter("two@example.org"))
    assert len(first.handler.to("one@example.org")) == 1
    assert len(second.handler.to("two@example.org")) == 1
    assert sender.connections == 2
    assert sleeps.delays == []  # reopening a dropped idle session needs no backoff


def test_an_unreachable_server_stops_the_sender() -> None:
    settings = parse_smtp_url(f"smtp://127.0.0.1:{free_port()}?timeout=2", environ={})
    sleeps = Sleeps()
    with (
        SmtpSender(settings, retry=RETRY, sleep=sleeps) as sender,
        pytest.raises(MailServerError, match=r"cannot reach the mail server .* 4 attempts"),
    ):
        sender.send(letter("reader@example.org"))
    assert sleeps.delays == [0.5, 1.0, 1.5]


# --- TLS and login --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1 (key and certificate in one PEM file)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    pem = tmp_path_factory.mktemp("tls") / "server.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(pem), "-out", str(pem)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return pem


def server_context(pem: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem)
    return context


class Accounts:
    """An aiosmtpd authenticator with one account; remembers who logged in."""

    def __init__(self, user: str, password: str) -> None:
        self.account = (user.encode(), password.encode())
        self.logins: list[bytes] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        ok = (data.login, data.password) == self.account
        if ok:
            self.logins.append(data.login)
        # handled=False: aiosmtpd itself answers (235 or 535).
        return AuthResult(success=ok, handled=False)


def test_starttls_and_login_from_the_environment(
    start_mail_server: Callable[..., MailServer], certificate: Path
) -> None:
    accounts = Accounts("digest", "s3cret")
    server = start_mail_server(
        tls_context=server_context(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=accounts,
    )
    env = {"PAPERSIFT_SMTP_USER": "digest", "PAPERSIFT_SMTP_PASSWORD": "s3cret"}
    url = f"{server.url}?starttls=true&cafile={certificate}"
    with SmtpSender(parse_smtp_url(url, environ=env)) as sender:
        sender.send(letter("reader@example.org"))
    assert accounts.logins == [b"digest"]
    assert len(server.handler.to("reader@example.org")) == 1


def test_a_refused_login_stops_the_sender_without_showing_the_password(
    start_mail_server: Callable[..., MailServer], certificate: Path
) -> None:
    server = start_mail_server(
        tls_context=server_context(certificate),
        auth_required=True,
        authenticator=Accounts("digest", "s3cret"),
    )
    url = f"smtp://digest:wrong-pw@127.0.0.1:{server.port}?cafile={certificate}&timeout=5"
    with (
        SmtpSender(parse_smtp_url(url, environ={}), retry=RETRY, sleep=Sleeps()) as sender,
        pytest.raises(MailServerError, match="refused the login of 'digest'") as raised,
    ):
        sender.send(letter("reader@example.org"))
    assert "wrong-pw" not in str(raised.value)
    assert server.handler.received == []


def test_smtps_speaks_tls_from_the_start(
    start_mail_server: Callable[..., MailServer], certificate: Path
) -> None:
    server = start_mail_server(ssl_context=server_context(certificate))
    url = f"smtps://127.0.0.1:{server.port}?cafile={certificate}"
    with SmtpSender(parse_smtp_url(url, environ={})) as sender:
        sender.send(letter("reader@example.org"))
    assert len(server.handler.to("reader@example.org")) == 1


def test_an_untrusted_certificate_is_refused(
    start_mail_server: Callable[..., MailServer], certificate: Path
) -> None:
    server = start_mail_server(tls_context=server_context(certificate))
    with (
        SmtpSender(parse_smtp_url(f"{server.url}?starttls=true", environ={})) as sender,
        pytest.raises(MailServerError, match=r"TLS with the mail server .* failed"),
    ):
        sender.send(letter("reader@example.org"))
    assert server.handler.received == []


def test_required_starttls_that_is_not_offered(mail_server: MailServer) -> None:
    with (
        SmtpSender(parse_smtp_url(f"{mail_server.url}?starttls=true", environ={})) as sender,
        pytest.raises(MailServerError, match="does not offer STARTTLS"),
    ):
        sender.send(letter("reader@example.org"))
    assert mail_server.handler.received == []
