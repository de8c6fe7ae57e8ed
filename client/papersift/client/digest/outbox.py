"""Writing messages as ``.eml`` files to a directory instead of sending them."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["Outbox"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Outbox:
    """Writes each message to ``DIR/<date>_<reader>_<hash>.eml`` (CRLF line ends, as sent).

    The name follows the ``Message-ID``, so writing a reader's digest of a day again replaces
    the file rather than adding a second one. Files appear whole: each is written to a
    temporary name and renamed.

    Args:
        directory: Where the files go; created if missing.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []
        """The files written, in order."""

    def send(self, message: EmailMessage) -> None:
        """Write ``message`` as one ``.eml`` file.

        Raises:
            OSError: The file could not be written.
        """
        path = self.directory / self.file_name(message)
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.written.append(path)

    @staticmethod
    def file_name(message: EmailMessage) -> str:
        """``<date>_<reader>_<hash of the Message-ID>.eml``, safe on any file system."""
        message_id = str(message.get("Message-ID", ""))
        digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:12]
        date = _UNSAFE.sub("-", str(message.get("X-Papersift-Digest", "")).split(";")[0])
        reader = _UNSAFE.sub("-", message["To"].addresses[0].username)[:40]
        return f"{date or 'undated'}_{reader}_{digest}.eml"

    def close(self) -> None:
        """Nothing to release; present so an outbox and an SMTP sender are interchangeable."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
