"""Model bundles: the only thing training and serving share.

A bundle is a directory ``<model_dir>/<version>/`` holding data, never code:

- ``manifest.json``: format, version, dates, data window, parameters, metrics, and the size and
  SHA-256 of every other file;
- ``arrays.npz``: the scorer's numeric arrays (loaded with ``allow_pickle=False``);
- ``scorer.json``: the scorer's parameters and the user ids of the model's rows;
- ``featurizer.json``: the text featurizer's vocabulary and idf, author and category lists.

Publishing is atomic: the bundle is written into a temporary directory, fsynced, renamed into
place, and only then ``<model_dir>/CURRENT`` is replaced (write, fsync, rename) with its version.
A reader therefore sees either the old bundle or the whole new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from papersift.core.errors import PaperSiftError
from papersift.core.features import Featurizer
from papersift.core.scoring import Scorer

FORMAT = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
SCORER = "scorer.json"
FEATURIZER = "featurizer.json"
_VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class BundleError(PaperSiftError):
    """A bundle is missing, incomplete, corrupt or inconsistent; it must not be served."""


class BundleUnreadable(BundleError):
    """Reading a bundle failed with an I/O error that may pass (e.g. a flaky shared volume)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What ``manifest.json`` says about a bundle."""

    version: str
    created_at: dt.datetime
    trained_at: dt.datetime
    data_start: dt.date | None
    data_end: dt.date | None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON-ready data."""
        return {
            "format": FORMAT,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "trained_at": self.trained_at.isoformat(),
            "data_start": self.data_start.isoformat() if self.data_start else None,
            "data_end": self.data_end.isoformat() if self.data_end else None,
            "params": self.params,
            "metrics": self.metrics,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        """Parse ``manifest.json``; raises ``BundleError`` naming what is wrong."""
        if not isinstance(data, Mapping):
            raise BundleError("manifest.json is not a JSON object")
        if data.get("format") != FORMAT:
            raise BundleError(f"manifest format {data.get('format')!r} is not {FORMAT}")
        try:
            return cls(
                version=str(data["version"]),
                created_at=dt.datetime.fromisoformat(data["created_at"]),
                trained_at=dt.datetime.fromisoformat(data["trained_at"]),
                data_start=_optional_date(data.get("data_start")),
                data_end=_optional_date(data.get("data_end")),
                params=dict(data.get("params", {})),
                metrics={str(k): float(v) for k, v in data.get("metrics", {}).items()},
                files={str(k): dict(v) for k, v in data["files"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"manifest.json is malformed ({exc!r})") from exc


@dataclass(frozen=True)
class ModelBundle:
    """A loaded, verified bundle."""

    manifest: Manifest
    featurizer: Featurizer
    scorer: Scorer
    path: Path

    @property
    def version(self) -> str:
        """The bundle's version (its directory name)."""
        return self.manifest.version


def new_version(now: dt.datetime) -> str:
    """A sortable, unique version name such as ``20261122T083000Z-3f9a1c``."""
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def write_bundle(
    model_dir: Path,
    *,
    featurizer: Featurizer,
    scorer: Scorer,
    trained_at: dt.datetime,
    data_start: dt.date | None,
    data_end: dt.date | None,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    version: str | None = None,
    publish_now: bool = True,
) -> ModelBundle:
    """Write a bundle, verify it, and (unless ``publish_now`` is false) point ``CURRENT`` at it.

    With ``publish_now=False`` the caller finishes its own steps first and then calls
    :func:`publish`; until then no server sees the bundle.
    """
    scorer.validate()
    _check_consistent(featurizer, scorer)
    now = dt.datetime.now(dt.UTC)
    version = version or new_version(now)
    if not _VERSION_PATTERN.fullmatch(version):
        raise BundleError(f"version {version!r} must match {_VERSION_PATTERN.pattern}")
    model_dir.mkdir(parents=True, exist_ok=True)
    final = model_dir / version
    if final.exists():
        raise BundleError(f"{final} already exists; versions are never overwritten")
    staging = model_dir / f".tmp-{version}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        _write_files(staging, featurizer, scorer)
        manifest = Manifest(
            version=version,
            created_at=now,
            trained_at=trained_at,
            data_start=data_start,
            data_end=data_end,
            params=dict(params),
            metrics={name: float(value) for name, value in metrics.items()},
            files={name: file_digest(staging / name) for name in (ARRAYS, SCORER, FEATURIZER)},
        )
        _write_durably(staging / MANIFEST, json.dumps(manifest.to_json(), indent=2).encode())
        _fsync_dir(staging)
        os.rename(staging, final)
        _fsync_dir(model_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    bundle = load_bundle(final)  # never publish what would not load
    if publish_now:
        publish(model_dir, version)
    return bundle


def publish(model_dir: Path, version: str) -> None:
    """Point ``CURRENT`` at ``version`` atomically."""
    staging = model_dir / f".{CURRENT}.{secrets.token_hex(4)}"
    _write_durably(staging, f"{version}\n".encode())
    os.replace(staging, model_dir / CURRENT)
    _fsync_dir(model_dir)


def current_version(model_dir: Path) -> str | None:
    """The version ``CURRENT`` points at, or ``None`` when nothing is published."""
    try:
        text = (model_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def load_current(model_dir: Path) -> ModelBundle | None:
    """Load the published bundle, or ``None`` when nothing is published."""
    version = current_version(model_dir)
    return None if version is None else load_version(model_dir, version)


def load_version(model_dir: Path, version: str) -> ModelBundle:
    """Load ``<model_dir>/<version>`` after checking that ``version`` is a plain version name."""
    if not _VERSION_PATTERN.fullmatch(version):
        raise BundleError(f"{model_dir / CURRENT} names {version[:80]!r}, not a version")
    return load_bundle(model_dir / version)


def load_bundle(path: Path) -> ModelBundle:
    """Load and verify a bundle: checksums, then shapes. Raises ``BundleError``."""
    try:
        manifest = Manifest.from_json(json.loads((path / MANIFEST).read_bytes()))
    except FileNotFoundError as exc:
        raise BundleError(f"{path} has no {MANIFEST}") from exc
    except OSError as exc:
        raise BundleUnreadable(f"{path / MANIFEST} cannot be read now ({exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path / MANIFEST} is not valid JSON ({exc})") from exc
    if manifest.version != path.name:
        raise BundleError(f"{path} holds version {manifest.version!r}, not {path.name!r}")
    for name in (ARRAYS, SCORER, FEATURIZER):
        expected = manifest.files.get(name)
        if expected is None:
            raise BundleError(f"{path / MANIFEST} does not list {name}")
        actual = file_digest(path / name) if (path / name).is_file() else None
        if actual != expected:
            raise BundleError(f"{path / name} is missing or fails its checksum")
    try:
        # numpy leaks the file it opened when the archive is corrupt: open it ourselves.
        with (path / ARRAYS).open("rb") as handle, np.load(handle, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        scorer_data = json.loads((path / SCORER).read_bytes())
        featurizer = Featurizer.from_json(json.loads((path / FEATURIZER).read_bytes()))
        scorer = Scorer(arrays, scorer_data["params"], scorer_data["user_ids"])
        scorer.validate()
    except OSError as exc:
        raise BundleUnreadable(f"{path} cannot be read now ({exc})") from exc
    except Exception as exc:  # whatever a damaged file makes numpy, json or the scorer raise
        raise BundleError(f"{path} cannot be loaded ({exc!r})") from exc
    _check_consistent(featurizer, scorer)
    return ModelBundle(manifest=manifest, featurizer=featurizer, scorer=scorer, path=path)


def _check_consistent(featurizer: Featurizer, scorer: Scorer) -> None:
    if featurizer.n_features != scorer.n_features:
        raise BundleError(
            f"the featurizer makes {featurizer.n_features} features "
            f"but the scorer expects {scorer.n_features}"
        )


def _write_files(directory: Path, featurizer: Featurizer, scorer: Scorer) -> None:
    with (directory / ARRAYS).open("wb") as handle:
        np.savez(handle, allow_pickle=False, **scorer.arrays)
        handle.flush()
        os.fsync(handle.fileno())
    scorer_data = {"params": scorer.params, "user_ids": scorer.user_ids}
    _write_durably(directory / SCORER, json.dumps(scorer_data).encode())
    _write_durably(directory / FEATURIZER, json.dumps(featurizer.to_json()).encode())


def file_digest(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a file, as the manifest records them."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _optional_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None
