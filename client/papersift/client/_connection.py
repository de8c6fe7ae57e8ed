"""How the ``papersift`` commands reach the server: address, deadline, TLS and API key.

The API key comes from ``$PAPERSIFT_API_KEY`` or ``--api-key-file`` (never a flag of its own:
command lines end up in shell histories and process lists).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from papersift.client._client import Client

API_KEY_ENV = "PAPERSIFT_API_KEY"


class ConnectionSettingsError(Exception):
    """A TLS or API-key file cannot be used; the message says which and why."""


def add_security_options(group: argparse._ArgumentGroup) -> None:
    """The TLS and API-key options (all default to "not given")."""
    group.add_argument("--tls", action="store_true", default=argparse.SUPPRESS, help="use TLS")
    group.add_argument(
        "--ca-file",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="PEM",
        help="CA certificates to trust (implies --tls; default: the system's)",
    )
    group.add_argument(
        "--cert-file",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="PEM",
        help="client certificate chain, for servers that require one (implies --tls)",
    )
    group.add_argument(
        "--key-file",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="PEM",
        help="private key of --cert-file",
    )
    group.add_argument(
        "--api-key-file",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help=f"file holding the API key (default: ${API_KEY_ENV})",
    )


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConnectionSettingsError(f"cannot read the {what} {path}: {exc}") from exc


def connect(args: argparse.Namespace) -> Client:
    """A client for the command's ``--server``, ``--timeout``, TLS and API-key options.

    Raises:
        ConnectionSettingsError: A file cannot be read, or a key file is given without a cert.
    """
    ca_file = getattr(args, "ca_file", None)
    cert_file = getattr(args, "cert_file", None)
    key_file = getattr(args, "key_file", None)
    if (cert_file is None) != (key_file is None):
        raise ConnectionSettingsError("--cert-file and --key-file go together")
    secure = bool(getattr(args, "tls", False) or ca_file or cert_file)
    api_key = os.environ.get(API_KEY_ENV) or None
    key_path = getattr(args, "api_key_file", None)
    if key_path is not None:
        raw = _read(key_path, "API key file")
        api_key = raw.decode(errors="replace").strip() if raw is not None else None
        if not api_key:
            raise ConnectionSettingsError(f"the API key file {key_path} is empty")
    return Client(
        args.server,
        timeout=args.timeout,
        secure=secure,
        root_certificates=_read(ca_file, "CA file"),
        certificate_chain=_read(cert_file, "certificate file"),
        private_key=_read(key_file, "key file"),
        api_key=api_key,
    )
