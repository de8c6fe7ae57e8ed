"""Helpers for client tests: sample papers, a seeded real server, and a scripted gRPC server.

The scripted server is a real gRPC server on a real port; it exists for the status codes the
real papersift server never answers on purpose (PERMISSION_DENIED, INTERNAL, ...) and for
counting how many attempts gRPC's retry policy made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from papersift.client import Client, Interaction, InteractionKind, Paper
from papersift.v1 import ranker_pb2

DAY = dt.date(2025, 3, 7)
EMPTY_DAY = dt.date(2025, 3, 8)
SEEDED_PAPERS = 5


def make_paper(number: int, day: dt.date = DAY, **fields: Any) -> Paper:
    """A valid paper ``arxiv:2503.<number>`` listed on ``day``."""
    paper = Paper(
        paper_id=f"arxiv:2503.{number:05d}",
        title=f"Paper number {number}",
        date=day,
        abstract=f"Abstract of paper {number}.",
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.CL",),
        url=f"https://arxiv.org/abs/2503.{number:05d}",
        source="arxiv",
    )
    return dataclasses.replace(paper, **fields)


def make_event(
    event_id: str, user_id: str, number: int, kind: InteractionKind = InteractionKind.CLICK
) -> Interaction:
    """A valid interaction with paper ``number`` that happened an hour ago."""
    return Interaction(
        event_id=event_id,
        user_id=user_id,
        paper_id=f"arxiv:2503.{number:05d}",
        kind=kind,
        occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    )


@pytest.fixture
def seeded_address(server_address: str) -> str:
    """A fresh real server holding ``SEEDED_PAPERS`` papers listed on ``DAY``."""
    with Client(server_address) as client:
        client.upsert_papers([make_paper(n) for n in range(1, SEEDED_PAPERS + 1)])
    return server_address


@pytest.fixture
def closed_address() -> str:
    """``127.0.0.1:port`` where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


class ScriptedRanker:
    """Answers ``GetModelInfo`` as the call's metadata says, counting every attempt.

    Metadata: ``x-fail-with`` a status code name to abort with, ``x-fail-times`` how many
    attempts fail before one succeeds (default: all), ``x-echo`` a text returned as ``message``,
    ``x-delay`` seconds to take before answering (less if the call ends first).
    """

    def __init__(self) -> None:
        self.attempts = 0
        self._lock = threading.Lock()

    def get_model_info(
        self, request: ranker_pb2.GetModelInfoRequest, context: grpc.ServicerContext
    ) -> ranker_pb2.GetModelInfoResponse:
        metadata = {key: str(value) for key, value in context.invocation_metadata()}
        with self._lock:
            self.attempts += 1
            attempt = self.attempts
        if "x-delay" in metadata:
            ended = threading.Event()
            context.add_callback(ended.set)
            ended.wait(timeout=float(metadata["x-delay"]))
        status = metadata.get("x-fail-with")
        fail_times = int(metadata.get("x-fail-times", "1000"))
        if status is not None and attempt <= fail_times:
            context.abort(grpc.StatusCode[status], f"scripted {status} on attempt {attempt}")
        return ranker_pb2.GetModelInfoResponse(
            loaded=False, message=metadata.get("x-echo", "scripted")
        )


@dataclass
class ScriptedServer:
    """A running ``ScriptedRanker`` and its address."""

    address: str
    ranker: ScriptedRanker


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A real gRPC server answering as ``ScriptedRanker`` on a free local port."""
    ranker = ScriptedRanker()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    # Only GetModelInfo is served; the other methods answer UNIMPLEMENTED.
    handler = grpc.unary_unary_rpc_method_handler(
        ranker.get_model_info,
        request_deserializer=ranker_pb2.GetModelInfoRequest.FromString,
        response_serializer=ranker_pb2.GetModelInfoResponse.SerializeToString,
    )
    service = ranker_pb2.DESCRIPTOR.services_by_name["Ranker"].full_name
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(service, {"GetModelInfo": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield ScriptedServer(address=f"127.0.0.1:{port}", ranker=ranker)
    finally:
        server.stop(grace=None).wait()
