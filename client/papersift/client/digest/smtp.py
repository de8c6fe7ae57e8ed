"""Sending messages over SMTP: one reused connection, retries with backoff, clear failures.

The server is given as a URL::

    smtp://[USER[:PASSWORD]@]HOST[:PORT][?starttls=auto|true|false&timeout=SECONDS&cafile=PEM]
    smtps://[USER[:PASSWORD]@]HOST[:PORT][?timeout=SECONDS&cafile=PEM]

``smtps`` speaks TLS from the first byte (port 465 by default); ``smtp`` (port 25 by default,
587 for submission) upgrades with STARTTLS when the server offers it (``starttls=auto``), must
upgrade (``true``) or never does (``false``). ``cafile`` trusts a private CA besides the
system's. User and password may be percent-encoded in the URL or come from
``PAPERSIFT_SMTP_USER`` and ``PAPERSIFT_SMTP_PASSWORD``; the URL wins. A password is only sent
over TLS, or to a mail server on this machine.

A reply of 4xx, a dropped connection or a timeout is transient: the message is tried again
after a delay that doubles each time, up to ``RetryPolicy.attempts`` attempts in all. A 5xx
reply is permanent for that message. Failing to connect or log in at all is
:class:`MailServerError`: no later message would fare better.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType
from typing import Literal, Self

__all__ = [
    "PASSWORD_ENV",
    "USER_ENV",
    "DeliveryError",
    "MailServerError",
    "RetryPolicy",
    "SmtpSender",
    "SmtpSettings",
    "parse_smtp_url",
]

USER_ENV = "PAPERSIFT_SMTP_USER"
PASSWORD_ENV = "PAPERSIFT_SMTP_PASSWORD"

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_DEFAULT_TIMEOUT = 30.0

StartTls = Literal["auto", "true", "false"]
_STARTTLS: dict[str, StartTls] = {"auto": "auto", "true": "true", "false": "false"}

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to reach the mail server (see the module docs for the URL).

    Attributes:
        host: Mail server name or address.
        port: Its port.
        implicit_tls: TLS from the first byte (``smtps``).
        starttls: ``auto``, ``true`` or ``false`` (``smtp`` only).
        username: Login name; empty for no login.
        password: Login password; never shown in ``repr`` or messages.
        timeout: Seconds to wait on any network operation.
        cafile: PEM file of extra trusted CA certificates; empty for the system's only.
    """

    host: str
    port: int
    implicit_tls: bool = False
    starttls: StartTls = "auto"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = _DEFAULT_TIMEOUT
    cafile: str = ""

    def display(self) -> str:
        """The URL without the password, for messages and logs."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{urllib.parse.quote(self.username, safe='')}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


def parse_smtp_url(url: str, environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """Parse an ``smtp://`` or ``smtps://`` URL (see the module docs).

    Args:
        url: The URL.
        environ: Where ``PAPERSIFT_SMTP_USER`` and ``PAPERSIFT_SMTP_PASSWORD`` are looked up;
            ``None`` for ``os.environ``.

    Raises:
        ValueError: The URL is not usable; the message says what to change (and never
            contains the password).
    """
    env = os.environ if environ is None else environ
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("the mail server URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("the mail server URL has no host, e.g. smtp://mail.example.org:587")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError("the port of the mail server URL is not a number 1 to 65535") from None
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("the mail server URL must not have a path or fragment")

    try:
        query = dict(urllib.parse.parse_qsl(parts.query, strict_parsing=bool(parts.query)))
    except ValueError:
        raise ValueError(f"the query {parts.query!r} of the mail server URL is malformed") from None
    known = {"starttls", "timeout", "cafile"} if scheme == "smtp" else {"timeout", "cafile"}
    unknown = sorted(set(query) - known)
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r} in the mail server URL; {scheme}:// takes "
            + ", ".join(sorted(known))
        )
    starttls = query.get("starttls", "auto").lower()
    if starttls not in _STARTTLS:
        raise ValueError(f"starttls={starttls} must be auto, true or false")
    timeout = _timeout(query.get("timeout"))

    username = urllib.parse.unquote(parts.username or "") or env.get(USER_ENV, "")
    password = urllib.parse.unquote(parts.password or "") or env.get(PASSWORD_ENV, "")
    if password and not username:
        raise ValueError(f"a password is set but no user; set {USER_ENV} or put it in the URL")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        implicit_tls=scheme == "smtps",
        starttls=_STARTTLS["false" if scheme == "smtps" else starttls],
        username=username,
        password=password,
        timeout=timeout,
        cafile=query.get("cafile", ""),
    )


def _timeout(text: str | None) -> float:
    if text is None:
        return _DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"timeout={text} must be a number of seconds above 0")
    return value


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried.

    Attributes:
        attempts: Tries per message in all, at least 1.
        initial_delay: Seconds before the second try; each later delay doubles.
        max_delay: The longest delay between two tries.
    """

    attempts: int = 4
    initial_delay: float = 2.0
    max_delay: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays must not be negative")

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failed try."""
        return float(min(self.initial_delay * 2 ** (failed_attempts - 1), self.max_delay))


class DeliveryError(Exception):
    """One message was not delivered; the next one may well be.

    The message reads ``refused: 550 ...`` or ``not accepted after 4 attempts: 451 ...``.

    Attributes:
        recipient: The message's ``To`` address.
        reply: The mail server's last reply (``550 5.1.1 no such user``) or the network error.
        permanent: A 5xx reply; otherwise the transient failures outlasted every attempt.
        attempts: How many tries were made.
    """

    def __init__(self, recipient: str, reply: str, *, permanent: bool, attempts: int) -> None:
        kind = "refused" if permanent else f"not accepted after {attempts} attempts"
        super().__init__(f"{kind}: {reply}")
        self.recipient = recipient
        self.reply = reply
        self.permanent = permanent
        self.attempts = attempts


class MailServerError(Exception):
    """The mail server cannot be used at all (unreachable, TLS or login failed): stop sending."""


class _Transient(Exception):
    """A failure worth another try.

    ``connecting``: no session could be opened; ``dropped``: an open session was lost.
    """

    def __init__(self, reply: str, *, connecting: bool = False, dropped: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.connecting = connecting
        self.dropped = dropped


class _Permanent(Exception):
    """A 5xx reply to one message."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpSender:
    """Sends messages over one SMTP connection, opened on first use and reopened if dropped.

    Example:
        >>> with SmtpSender(parse_smtp_url("smtp://127.0.0.1:2525")) as sender:  # doctest: +SKIP
        ...     sender.send(message)

    Args:
        settings: The mail server.
        retry: Attempts and backoff for transient failures.
        sleep: Waits between attempts (tests pass a recorder).
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0
        """How many connections were opened, for reports and tests."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its ``To`` address, retrying transient failures.

        Raises:
            DeliveryError: A 5xx reply, or transient failures on every attempt.
            MailServerError: No connection or login was possible; later messages would fail too.
        """
        recipient = str(message["To"])
        attempt = 0
        while True:
            attempt += 1
            try:
                self._deliver(message)
                return
            except _Transient as exc:
                if attempt >= self.retry.attempts:
                    if exc.connecting:
                        raise MailServerError(
                            f"cannot reach the mail server {self.settings.display()} "
                            f"after {attempt} attempts: {exc.reply}"
                        ) from None
                    raise DeliveryError(
                        recipient, exc.reply, permanent=False, attempts=attempt
                    ) from None
                delay = self.retry.delay(attempt)
                log.warning(
                    "%s: %s; trying again in %.3g s (attempt %d of %d)",
                    recipient,
                    exc.reply,
                    delay,
                    attempt + 1,
                    self.retry.attempts,
                )
                self._sleep(delay)
            except _Permanent as exc:
                raise DeliveryError(
                    recipient, exc.reply, permanent=True, attempts=attempt
                ) from None

    def _deliver(self, message: EmailMessage) -> None:
        reused = self._smtp is not None and self._smtp.sock is not None
        try:
            self._send_on(self._connection(), message)
        except _Transient as exc:
            if not (reused and exc.dropped):
                raise
            # Servers close idle sessions; a fresh one deserves a try without delay.
            self._send_on(self._connection(), message)

    def _send_on(self, smtp: smtplib.SMTP, message: EmailMessage) -> None:
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            self._classify(code, text)
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, ...
            self._classify(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise _Transient(f"connection lost ({exc})", dropped=True) from None
        except smtplib.SMTPException as exc:  # e.g. the message needs SMTPUTF8, not offered
            raise _Permanent(str(exc)) from None
        except OSError as exc:  # smtplib's errors are OSErrors too, hence last
            self._drop()
            raise _Transient(f"connection lost ({exc})", dropped=True) from None

    def _classify(self, code: int, text: bytes | str) -> None:
        reply = _reply(code, text)
        if code == 421:  # the server is closing this session
            self._drop()
        if 400 <= code < 500:
            raise _Transient(reply)
        raise _Permanent(reply)

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None and self._smtp.sock is not None:
            return self._smtp
        self._drop()
        where = self.settings.display()
        try:
            smtp = self._open()
        except smtplib.SMTPAuthenticationError as exc:
            raise MailServerError(
                f"the mail server {where} refused the login of {self.settings.username!r}: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except ssl.SSLError as exc:
            raise MailServerError(f"TLS with the mail server {where} failed: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise _Transient(reply, connecting=True) from None
            raise MailServerError(f"the mail server {where} refused the session: {reply}") from None
        except smtplib.SMTPServerDisconnected as exc:
            raise _Transient(str(exc) or "connection lost", connecting=True) from None
        except smtplib.SMTPException as exc:  # e.g. no AUTH offered
            raise MailServerError(f"the mail server {where} cannot be used: {exc}") from None
        except OSError as exc:  # smtplib's errors are OSErrors too, hence last
            raise _Transient(str(exc) or type(exc).__name__, connecting=True) from None
        self._smtp = smtp
        self.connections += 1
        return smtp

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(cafile=settings.cafile or None)
        smtp: smtplib.SMTP
        if settings.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            smtp.ehlo()
            encrypted = settings.implicit_tls
            if settings.starttls != "false" and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                encrypted = True
            elif settings.starttls == "true":
                raise MailServerError(
                    f"the mail server {settings.display()} does not offer STARTTLS; "
                    "use smtps:// or starttls=false"
                )
            if settings.username:
                if not encrypted and not _is_loopback(settings.host):
                    raise MailServerError(
                        f"refusing to send the password to {settings.display()} unencrypted; "
                        "use smtps:// or a server that offers STARTTLS"
                    )
                smtp.login(settings.username, settings.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def close(self) -> None:
        """Say goodbye to the mail server and close the connection. Idempotent."""
        self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
