"""``papersift-server``: run the gRPC server, or apply the store's migrations."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# First: its clock is the start of every "start-up:" duration.
from papersift.server import startup

try:
    from pydantic import ValidationError

    from papersift.core.errors import StoreUnavailable
    from papersift.core.pipes import run_without_broken_pipe
    from papersift.core.store import Store, resolve_url, sqlite_path
    from papersift.server.api_keys import SCOPES, ApiKeysError, load_api_keys, new_api_key
    from papersift.server.config import Settings, default_workers, split_host_port
    from papersift.server.logs import configure_logging
except ModuleNotFoundError as missing:  # the bare install is the client only
    sys.exit(
        f"papersift-server: {missing.name} is not installed; "
        "install the server with: pip install 'papersift[server]'"
    )

EPILOG = """\
Every flag can also be set by an environment variable named PAPERSIFT_ and the flag in capitals
(PAPERSIFT_LISTEN, PAPERSIFT_DATABASE_URL, PAPERSIFT_REDIS_URL, PAPERSIFT_WORKERS, ...); flags win.

--workers N runs N processes on one port (SO_REUSEPORT), each with its own event loop; SIGTERM
drains them all. The default is one process, or one per CPU when --redis-url is set: without
Redis each worker caches on its own, so the next page of a list may be ranked again by another
worker, and DeleteUser clears only one worker's lists (the others expire).

exit status: 0 stopped cleanly, 1 the server or store failed, 2 bad settings; 141 when stdout
was closed early (e.g. piped into head).

examples:
  papersift-server                                   # SQLite file + in-process cache
  papersift-server serve --database-url postgresql+psycopg://app@db/papersift \\
                         --redis-url redis://cache:6379/0 --listen 0.0.0.0:50051 \\
                         --workers 4 --metrics-listen 0.0.0.0:9464 --log-format json
  papersift-server migrate --database-url postgresql+psycopg://app@db/papersift
  papersift-server new-api-key --name web-frontend --scopes rank,write \\
                               --api-keys-file /etc/papersift/api-keys.json
"""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _settings_flags(parser: argparse.ArgumentParser, *, store_only: bool = False) -> None:
    for name, info in Settings.model_fields.items():
        if store_only and name not in {"database_url", "log_level"}:
            continue
        if name == "workers":
            default = f"1, or the CPU count ({default_workers('redis')}) with --redis-url"
        else:
            default = str(info.get_default(call_default_factory=True))
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            default=None,
            help=f"{info.description} (default: {default})",
        )


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``papersift-server``."""
    parser = argparse.ArgumentParser(
        prog="papersift-server",
        description="The papersift gRPC ranking server.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the server (the default command)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _settings_flags(serve)
    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    _settings_flags(migrate, store_only=True)
    new_key = commands.add_parser(
        "new-api-key",
        help="make an API key, add it to the keys file, print it once",
        description="Make an API key and add its SHA-256 to the keys file (created with mode "
        "0600). The key is printed once, on stdout: store it where the caller reads it.",
    )
    new_key.add_argument("--name", required=True, help="who the key is for, e.g. web-frontend")
    new_key.add_argument(
        "--scopes",
        required=True,
        type=_scopes,
        help=f"comma-separated: {','.join(SCOPES)} (rank: read rankings; write: papers, "
        "interactions, digests; admin: DeleteUser)",
    )
    new_key.add_argument(
        "--api-keys-file", type=Path, required=True, help="the keys file the server reads"
    )
    return parser


def _scopes(text: str) -> list[str]:
    scopes = [scope.strip() for scope in text.split(",") if scope.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SCOPES)}; got {text!r}")
    return scopes


def _load_settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        name: value
        for name, value in vars(args).items()
        if name in Settings.model_fields and value is not None
    }
    return Settings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (141 when stdout was closed early)."""
    return run_without_broken_pipe(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    imported = startup.since_start()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in {"-h", "--help"}):
        arguments.insert(0, "serve")
    args = build_parser().parse_args(arguments)
    if args.command == "new-api-key":
        try:
            key = new_api_key(args.api_keys_file, args.name, args.scopes)
        except (ApiKeysError, OSError) as exc:
            print(f"papersift-server: {exc}", file=sys.stderr)
            return 1
        print(key)
        print(
            f"added {args.name!r} ({','.join(args.scopes)}) to {args.api_keys_file}; "
            "restart the server to use it",
            file=sys.stderr,
        )
        return 0
    with _Timer() as reading:
        try:
            settings = _load_settings(args)
        except ValidationError as exc:
            for error in exc.errors():
                if error["type"] == "default_factory_not_called":
                    continue  # a default that depends on a field reported already
                field = ".".join(str(part) for part in error["loc"])
                message = error["msg"].removeprefix("Value error, ")
                print(f"papersift-server: --{field.replace('_', '-')}: {message}", file=sys.stderr)
            return 2
    problem = _store_path_problem(settings.database_url)
    if problem:
        print(f"papersift-server: --database-url: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        startup.log_phase("imports", imported)
        startup.log_phase("settings", reading.seconds)
    try:
        if args.command == "migrate":
            store = Store(settings.database_url)
            store.migrate()
            store.close()
            shown = resolve_url(settings.database_url)[0].render_as_string(hide_password=True)
            print(f"migrated {shown}")
            return 0
        return _serve(settings)
    except (StoreUnavailable, RuntimeError, OSError, ApiKeysError) as exc:
        print(f"papersift-server: {exc}", file=sys.stderr)
        return 1


class _Timer:
    """``with _Timer() as timer:`` leaves the block's duration in ``timer.seconds``."""

    def __enter__(self) -> _Timer:
        self.began = startup.since_start()
        self.seconds = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = startup.since_start() - self.began


def _store_path_problem(database_url: str) -> str | None:
    """Why SQLite could not create or open the store's file, checked without touching it.

    ``serve`` and ``migrate`` create a missing file (and its schema), but not its folder: the
    store would stay unreachable and the server never ready.
    """
    path = sqlite_path(resolve_url(database_url)[0])
    if path is None or path.exists():
        return None
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} of the SQLite file does not exist; create it first"
    return None


def _check_security(settings: Settings) -> None:
    """Read the keys and TLS files before any worker starts; warn about an open server.

    Raises:
        ApiKeysError: The keys file is not usable.
        OSError: A TLS file cannot be read.
    """
    if settings.api_keys_file is not None:
        load_api_keys(settings.api_keys_file)
    for path in (settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file):
        if path is not None:
            path.read_bytes()
    host = split_host_port(settings.listen)[0]
    if host not in LOOPBACK_HOSTS and settings.api_keys_file is None:
        logging.getLogger(__name__).warning(
            "listening on %s without API keys: anyone who reaches it may write and erase; "
            "set --api-keys-file (and --tls-cert-file/--tls-key-file) in production",
            settings.listen,
        )


def _serve(settings: Settings) -> int:
    port = split_host_port(settings.listen)[1]
    if port == 0 and settings.workers > 1 and "workers" not in settings.model_fields_set:
        logging.getLogger(__name__).info(
            "--listen %s: any free port, which workers cannot share; one worker "
            "(for more, set --workers N and a fixed port)",
            settings.listen,
        )
        settings = settings.model_copy(update={"workers": 1})
    _check_security(settings)
    if settings.workers == 1:
        stop_metrics = None
        if settings.metrics_listen:
            from papersift.server.metrics import serve_metrics

            stop_metrics = serve_metrics(settings.metrics_listen, multiprocess=False)
        try:
            return _worker(settings, 0)
        finally:
            if stop_metrics is not None:
                stop_metrics()
    if split_host_port(settings.listen)[1] == 0:
        print(
            f"papersift-server: --workers {settings.workers} share one port: --listen needs a "
            f"fixed port, not {settings.listen} (or use --workers 1)",
            file=sys.stderr,
        )
        return 2
    if settings.redis_url is None:
        logging.getLogger(__name__).warning(
            "%d workers with the in-process cache: each worker caches on its own, so the next "
            "page of a list may be ranked again by another worker (and change if the ranking "
            "did), and DeleteUser clears only one worker's lists (the others expire); "
            "set --redis-url to share one cache",
            settings.workers,
        )
    # Imported here, not at the top: prometheus-client must not be imported before the
    # supervisor has chosen its multiprocess directory.
    from papersift.server.workers import run_supervised

    return run_supervised(settings, _worker)


def _worker(settings: Settings, index: int) -> int:
    """Run one server process until SIGTERM or SIGINT (the body of each worker)."""
    with startup.timed("server imports"):
        from papersift.server.app import PaperSiftServer

    server = PaperSiftServer(settings, reuse_port=settings.workers > 1)
    asyncio.run(server.serve_until_signalled())
    return 0


if __name__ == "__main__":
    sys.exit(main())
