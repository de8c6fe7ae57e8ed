"""API keys with scopes: the keys file, its checks, and making a new key (no gRPC here).

Keys live in a JSON file (``--api-keys-file``), by name, as the SHA-256 of the key (never the
key itself), each with its scopes::

    {"keys": [{"name": "web-frontend", "sha256": "<64 hex digits>", "scopes": ["rank", "write"]}]}

``papersift-server new-api-key`` makes a key and adds its entry. A presented key is hashed and
compared with every entry in constant time (``hmac.compare_digest``), so the time taken says
nothing about how much of a key was right. ``auth.AuthInterceptor`` checks calls against them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

SCOPES: Final = ("rank", "write", "admin")
"""``rank``: read rankings; ``write``: add papers, interactions and digest records;
``admin``: erase readers."""

METHOD_SCOPES: Final[Mapping[str, str]] = {
    "/papersift.v1.Ranker/RankPapers": "rank",
    "/papersift.v1.Ranker/RankPapersBatch": "rank",
    "/papersift.v1.Ranker/GetModelInfo": "rank",
    "/papersift.v1.Ranker/ListSentDigests": "rank",
    "/papersift.v1.Ranker/ListDays": "rank",
    "/papersift.v1.Ranker/UpsertPapers": "write",
    "/papersift.v1.Ranker/RecordInteractions": "write",
    "/papersift.v1.Ranker/RecordDigest": "write",
    "/papersift.v1.Ranker/DeleteUser": "admin",
}
"""The scope each RPC needs. An RPC of the Ranker service missing here is refused."""


class ApiKeysError(ValueError):
    """The keys file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A named key's hash and scopes."""

    name: str
    digest: bytes
    scopes: frozenset[str]


def key_digest(key: str) -> bytes:
    """SHA-256 of a key, as the keys file stores it (hex)."""
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """The configured keys; :meth:`find` looks a presented key up in constant time."""

    def __init__(self, keys: list[ApiKey]) -> None:
        """Keys with distinct names and digests (see :func:`load_api_keys`)."""
        self.keys = keys

    def find(self, presented: str) -> ApiKey | None:
        """The entry of ``presented``, or ``None``; every entry is compared, match or not."""
        digest = key_digest(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def load_api_keys(path: Path) -> ApiKeys:
    """Read and check a keys file.

    Raises:
        ApiKeysError: Unreadable, not the expected JSON, an unknown scope, a repeated name.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiKeysError(f"{path}: cannot read the API keys ({exc})") from exc
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ApiKeysError(f'{path}: expected {{"keys": [...]}}')
    keys: list[ApiKey] = []
    for index, entry in enumerate(entries):
        keys.append(_parse_entry(entry, f"{path}: keys[{index}]"))
    names = [key.name for key in keys]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ApiKeysError(f"{path}: repeated key names: {', '.join(repeated)}")
    return ApiKeys(keys)


def _parse_entry(entry: Any, where: str) -> ApiKey:
    if not isinstance(entry, dict):
        raise ApiKeysError(f"{where}: expected an object with name, sha256 and scopes")
    name, digest, scopes = entry.get("name"), entry.get("sha256"), entry.get("scopes")
    if not isinstance(name, str) or not name.strip():
        raise ApiKeysError(f"{where}.name: must be a non-empty string")
    if not isinstance(digest, str) or len(digest) != 64:
        raise ApiKeysError(f"{where}.sha256: must be 64 hex digits (the key's SHA-256)")
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        raise ApiKeysError(f"{where}.sha256: must be 64 hex digits (the key's SHA-256)") from None
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise ApiKeysError(f"{where}.scopes: must list one or more of {', '.join(SCOPES)}")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ApiKeysError(f"{where}.scopes: unknown {unknown}; use {', '.join(SCOPES)}")
    return ApiKey(name=name, digest=raw, scopes=frozenset(scopes))


def new_api_key(path: Path, name: str, scopes: list[str]) -> str:
    """Make a key, add its entry to the keys file (created with mode 0600), return the key.

    Raises:
        ApiKeysError: The file is not usable, the name is taken, or a scope is unknown.
    """
    entries: list[Any] = []
    if path.exists():
        load_api_keys(path)  # refuse to add to a broken file
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
    if any(entry["name"] == name for entry in entries):
        raise ApiKeysError(f"{path}: a key named {name!r} exists; revoke it first or pick another")
    key = f"ps_{secrets.token_urlsafe(32)}"
    entry = {"name": name, "sha256": key_digest(key).hex(), "scopes": scopes}
    _parse_entry(entry, f"new key {name!r}")
    text = json.dumps({"keys": [*entries, entry]}, indent=2) + "\n"
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    temporary.replace(path)
    return key
