"""Past the concurrency cap, calls are refused at once and the server stays up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc

from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.server.api import DAY, Api, make_paper


async def test_calls_beyond_the_cap_are_refused_quickly_and_the_rest_served(
    start_server: Callable[..., ThreadedServer], connect: Callable[[ThreadedServer], Api]
) -> None:
    api = connect(start_server(max_concurrent_rpcs=2))
    await api.upsert([make_paper(n) for n in range(1, 51)])
    finished: list[grpc.StatusCode] = []

    async def batch(n: int) -> None:
        users = [f"reader-{n}-{k}" for k in range(100)]
        request = pb.RankPapersBatchRequest(user_ids=users, date=DAY, limit=5)
        try:
            await api.stub.RankPapersBatch(request, timeout=60)
            finished.append(grpc.StatusCode.OK)
        except grpc.aio.AioRpcError as exc:
            finished.append(exc.code())

    await asyncio.gather(*(batch(n) for n in range(24)))

    assert set(finished) == {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    # Refusals do not wait for the admitted calls: they all come back before the last success.
    last_ok = max(i for i, code in enumerate(finished) if code is grpc.StatusCode.OK)
    refused = [i for i, code in enumerate(finished) if code is grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert all(i < last_ok for i in refused)
    # Still up and serving once the burst is over.
    reply = await api.rank("after-the-burst")
    assert len(reply.papers) == 20
