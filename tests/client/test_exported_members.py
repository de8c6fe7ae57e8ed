"""The public surface of ``papersift.client`` is exactly ``__all__``: it cannot grow by accident."""

from __future__ import annotations

import types

import papersift.client

API = {
    "USE_CLIENT_DEFAULT",
    "AsyncClient",
    "Client",
    "UseClientDefault",
    # results and inputs
    "DeleteResult",
    "DigestRecord",
    "Interaction",
    "InteractionKind",
    "ModelInfo",
    "Paper",
    "RankFilters",
    "RankedPaper",
    "Ranking",
    "RecordResult",
    "SentDigest",
    "Strategy",
    "UpsertResult",
    # errors
    "DeadlineExceeded",
    "InvalidArgument",
    "ListedDay",
    "ListedDays",
    "NotFound",
    "PaperSiftError",
    "PermissionDenied",
    "ResourceExhausted",
    "ServerError",
    "Unauthenticated",
    "Unavailable",
}


def test_all_public_members_are_exported() -> None:
    # Submodules (cli, feeds) become attributes once imported; they are not API members.
    public = {
        name
        for name, value in vars(papersift.client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(papersift.client.__all__) == public
    assert len(papersift.client.__all__) == len(public)


def test_exported_members_are_the_documented_api() -> None:
    assert set(papersift.client.__all__) == API


def test_exported_classes_belong_to_the_package() -> None:
    for name in papersift.client.__all__:
        member = getattr(papersift.client, name)
        if isinstance(member, type):
            assert member.__module__ == "papersift.client", name


def test_every_error_derives_from_papersift_error() -> None:
    errors = [
        getattr(papersift.client, name)
        for name in papersift.client.__all__
        if isinstance(getattr(papersift.client, name), type)
        and issubclass(getattr(papersift.client, name), Exception)
    ]
    assert len(errors) == 9
    assert all(issubclass(error, papersift.client.PaperSiftError) for error in errors)
