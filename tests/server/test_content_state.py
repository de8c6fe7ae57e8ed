"""ContentState on a real store: what it fits, when it refits, and its fall-back to a thread."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess

import pytest

from papersift.core.store import Store
from papersift.core.types import Interaction
from papersift.server import content
from papersift.server.content import CONTENT_PREFIX, ContentState, is_content_model
from tests.synthetic import World, make_world


@pytest.fixture
def world() -> World:
    return make_world(papers_per_topic_per_day=6, users_per_topic=3)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store(sqlite_url)
    store.migrate()
    yield store
    store.close()


async def test_fits_on_the_stores_papers_and_refits_only_when_they_change(
    store: Store, world: World
) -> None:
    state = ContentState(store, lambda: None)
    try:
        await state.refresh()
        assert state.model is None  # nothing to fit on yet

        store.upsert_papers(world.papers)
        await state.refresh()
        first = state.model
        assert first is not None and is_content_model(first)
        assert first.version.startswith(CONTENT_PREFIX)
        assert first.manifest.params["papers"] == len(world.papers)

        await state.refresh()
        assert state.model is first  # no new papers: no refit

        clicks: list[Interaction] = list(world.interactions[:5])
        store.record_interactions(clicks)
        await state.refresh()
        assert state.model is first  # likes change the community, not the content model
        assert not state.community.empty
        assert len(state.community.papers) == len({i.paper_id for i in clicks})

        changed = world.papers[0]
        store.upsert_papers([dataclasses.replace(changed, title="A new title")])
        await state.refresh()
        assert state.model is not None and state.model.version != first.version
    finally:
        state.close()


async def test_no_content_model_is_fitted_while_a_trained_one_is_loaded(
    store: Store, world: World
) -> None:
    store.upsert_papers(world.papers)
    trained = object()
    state = ContentState(store, lambda: trained)  # type: ignore[arg-type,return-value]
    try:
        await state.refresh()
        assert state.model is None
    finally:
        state.close()


async def test_children_that_keep_dying_give_way_to_a_thread(
    store: Store, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.upsert_papers(world.papers)
    # Every child process exits as it starts, as in a host whose main module cannot be imported.
    dying = functools.partial(ProcessPoolExecutor, initializer=os._exit, initargs=(3,))
    monkeypatch.setattr(content, "ProcessPoolExecutor", dying)
    state = ContentState(store, lambda: None)
    try:
        with pytest.raises(BrokenProcessPool):
            await state.refresh()  # one death: the next refresh tries a new child
        assert state.model is None

        await state.refresh()  # the second death in a row: fitted in a thread instead

        assert state.model is not None
    finally:
        state.close()


async def test_one_dead_child_is_replaced_by_a_new_one(store: Store, world: World) -> None:
    store.upsert_papers(world.papers)
    state = ContentState(store, lambda: None)
    state._fitter = ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=os._exit, initargs=(3,)
    )
    try:
        with pytest.raises(BrokenProcessPool):
            await state.refresh()

        await state.refresh()

        assert state.model is not None
        assert state._child_failures == 0  # fitted by a new child, not in a thread
    finally:
        state.close()


def _exit_code(process: BaseProcess) -> int | None:
    """The process's exit code once it ended (None if it still runs after a minute).

    The executor's own thread may reap the child at the same moment as our join: the join then
    sees the child gone (ECHILD) before that thread has stored the code, so read it again.
    """
    process.join(timeout=60)
    for _ in range(200):
        if process.exitcode is not None:
            break
        time.sleep(0.05)
    return process.exitcode


async def test_closing_ends_a_running_fit_at_once(store: Store, world: World) -> None:
    store.upsert_papers(world.papers)
    state = ContentState(store, lambda: None)
    refresh = asyncio.create_task(state.refresh())
    for _ in range(6_000):  # the child starts within a minute, even on a loaded machine
        if state._fitter is not None and state._fitter._processes:
            break
        await asyncio.sleep(0.01)
    assert state._fitter is not None and state._fitter._processes, "no child process started"
    processes = list(state._fitter._processes.values())

    state.close()

    for process in processes:
        # Terminated (SIGTERM), not left to finish its fit and exit by itself (code 0).
        assert _exit_code(process) == -signal.SIGTERM
    with contextlib.suppress(asyncio.CancelledError):
        await refresh  # ended, not carried on in a thread
    assert state.model is None
    assert state._child_failures == 0


async def test_the_community_reloads_at_most_once_per_its_age(store: Store, world: World) -> None:
    store.upsert_papers(world.papers)
    store.record_interactions(world.interactions[:3])
    patient = ContentState(store, lambda: None, community_age=3_600)
    eager = ContentState(store, lambda: None, community_age=0)
    try:
        for state in (patient, eager):
            await state.refresh()
        first = patient.community
        store.record_interactions(world.interactions[3:10])

        for state in (patient, eager):
            await state.refresh()

        assert patient.community is first  # new likes wait until the hour is over
        assert eager.community.version != first.version
        assert len(eager.community.papers) > len(first.papers)
    finally:
        for state in (patient, eager):
            state.close()
