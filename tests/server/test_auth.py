"""Who may call what, over real channels: API keys with scopes, TLS, client certificates."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc

from papersift.client import Client, PermissionDenied, Unauthenticated, Unavailable
from papersift.client.cli import main as cli_main
from papersift.server.api_keys import ApiKeysError, load_api_keys, new_api_key
from papersift.v1 import ranker_pb2 as pb
from papersift.v1 import ranker_pb2_grpc as pb_grpc
from tests.conftest import ThreadedServer

DAY = dt.date(2025, 4, 1)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    """A keys file with a reader key, a writer key and an admin key; returns the keys."""
    path = tmp_path / "api-keys.json"
    return {
        "reader": new_api_key(path, "reader", ["rank"]),
        "writer": new_api_key(path, "writer", ["rank", "write"]),
        "admin": new_api_key(path, "admin", ["admin"]),
    }


def paper() -> pb.Paper:
    return pb.Paper(paper_id="arxiv:2504.00001", title="A paper", date=DAY.isoformat())


def test_keys_are_stored_hashed_and_the_file_is_private(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    path = tmp_path / "api-keys.json"
    text = path.read_text()
    assert not any(key in text for key in keys.values())
    assert path.stat().st_mode & 0o077 == 0
    loaded = load_api_keys(path)
    found = loaded.find(keys["writer"])
    assert found is not None and found.scopes == {"rank", "write"}
    assert loaded.find(keys["writer"] + "x") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read the API keys"),
        ('{"keys": {}}', 'expected {"keys": [...]}'),
        ('{"keys": [{"name": "a", "sha256": "zz", "scopes": ["rank"]}]}', "keys[0].sha256"),
        ('{"keys": [{"name": "a", "sha256": "' + "0" * 64 + '", "scopes": ["root"]}]}', "unknown"),
        (
            json.dumps({"keys": [{"name": "a", "sha256": "0" * 64, "scopes": ["rank"]}] * 2}),
            "repeated key names: a",
        ),
    ],
)
def test_a_bad_keys_file_is_refused_naming_the_entry(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ApiKeysError, match=message.replace("[", r"\[").replace("{", r"\{")):
        load_api_keys(path)


def test_each_rpc_needs_a_known_key_with_its_scope(
    tmp_path: Path, keys: dict[str, str], start_server: Callable[..., ThreadedServer]
) -> None:
    address = start_server(api_keys_file=tmp_path / "api-keys.json").address

    with Client(address, retry=False) as anonymous, pytest.raises(Unauthenticated) as missing:
        anonymous.rank_papers("alice", DAY)
    assert "missing API key" in missing.value.details
    with (
        Client(address, api_key="ps_wrong", retry=False) as wrong,
        pytest.raises(Unauthenticated, match="unknown API key"),
    ):
        wrong.get_model_info()
    with Client(address, api_key=keys["reader"]) as reader:
        with pytest.raises(PermissionDenied) as denied:
            reader.upsert_papers([])
        assert "API key 'reader' lacks the scope 'write', which UpsertPapers needs" in (
            denied.value.details
        )
        assert reader.get_model_info().loaded is False
    with (
        Client(address, api_key=keys["writer"]) as writer,
        pytest.raises(PermissionDenied, match="'admin', which DeleteUser needs"),
    ):
        writer.delete_user("alice")
    with Client(address, api_key=keys["admin"]) as admin:
        assert admin.delete_user("alice").interactions_deleted == 0
    # Probes need no key.
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_keys_never_reach_the_logs(
    tmp_path: Path,
    keys: dict[str, str],
    start_server: Callable[..., ThreadedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = start_server(api_keys_file=tmp_path / "api-keys.json").address
    with caplog.at_level(logging.DEBUG):
        for key in (keys["reader"], "ps_guess"):
            with (
                Client(address, api_key=key, retry=False) as client,
                pytest.raises((PermissionDenied, Unauthenticated)),
            ):
                client.delete_user("alice")
    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "DeleteUser" in logged  # the calls were logged...
    assert keys["reader"] not in logged and "ps_guess" not in logged  # ...without their keys


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_tls_with_a_trusted_certificate(
    tmp_path: Path, ca: trustme.CA, start_server: Callable[..., ThreadedServer]
) -> None:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    address = start_server(
        tls_cert_file=tmp_path / "cert.pem", tls_key_file=tmp_path / "key.pem"
    ).address
    trusted = ca.cert_pem.bytes()

    with Client(address, secure=True, root_certificates=trusted) as client:
        assert client.get_model_info().loaded is False
    with (
        Client(address, secure=True, retry=False, timeout=3) as untrusted,
        pytest.raises(Unavailable),
    ):
        untrusted.get_model_info()
    with Client(address, retry=False, timeout=3) as plaintext, pytest.raises(Unavailable):
        plaintext.get_model_info()


def test_client_certificates_when_the_server_requires_them(
    tmp_path: Path,
    ca: trustme.CA,
    start_server: Callable[..., ThreadedServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    server_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client_cert = ca.issue_cert("digest-job@papersift")
    client_cert.private_key_pem.write_to_path(str(tmp_path / "client-key.pem"))
    client_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "client-cert.pem"))
    address = start_server(
        tls_cert_file=tmp_path / "cert.pem",
        tls_key_file=tmp_path / "key.pem",
        tls_client_ca_file=tmp_path / "ca.pem",
    ).address

    trusted = ca.cert_pem.bytes()
    with (
        Client(address, secure=True, root_certificates=trusted, retry=False) as bare,
        pytest.raises(Unavailable),
    ):
        bare.get_model_info()
    ca_args = ("--server", address, "--ca-file", str(tmp_path / "ca.pem"), "model-info")
    assert cli_main([*ca_args, "--timeout", "3"]) == 1
    capsys.readouterr()
    status = cli_main(
        [
            *ca_args,
            *("--cert-file", str(tmp_path / "client-cert.pem")),
            *("--key-file", str(tmp_path / "client-key.pem")),
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert "no trained model" in capsys.readouterr().out.lower()


def test_the_cli_reads_the_api_key_from_the_environment_or_a_file(
    tmp_path: Path,
    keys: dict[str, str],
    start_server: Callable[..., ThreadedServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = start_server(api_keys_file=tmp_path / "api-keys.json").address
    assert cli_main(["--server", address, "model-info"]) == 1
    assert "missing API key" in capsys.readouterr().err
    monkeypatch.setenv("PAPERSIFT_API_KEY", keys["reader"])
    assert cli_main(["--server", address, "model-info"]) == 0
    monkeypatch.delenv("PAPERSIFT_API_KEY")
    key_file = tmp_path / "key.txt"
    key_file.write_text(keys["reader"] + "\n")
    assert cli_main(["--server", address, "--api-key-file", str(key_file), "model-info"]) == 0
    assert (
        cli_main(["--server", address, "--api-key-file", str(tmp_path / "none"), "model-info"]) == 2
    )
    assert "cannot read the API key file" in capsys.readouterr().err


def test_the_server_refuses_to_start_with_a_broken_keys_file(tmp_path: Path) -> None:
    from papersift.server.cli import main as server_main

    broken = tmp_path / "keys.json"
    broken.write_text("{")
    status = server_main(
        ["--listen", "127.0.0.1:0", "--workers", "1", "--api-keys-file", str(broken)]
    )
    assert status == 1


def test_stub_without_metadata_is_refused_too(
    tmp_path: Path, keys: dict[str, str], start_server: Callable[..., ThreadedServer]
) -> None:
    address = start_server(api_keys_file=tmp_path / "api-keys.json").address
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.RankerStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.UpsertPapers(pb.UpsertPapersRequest(papers=[paper()]), timeout=5)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        bearer = (("authorization", f"Bearer {keys['writer']}"),)
        stub.UpsertPapers(pb.UpsertPapersRequest(papers=[paper()]), timeout=5, metadata=bearer)
