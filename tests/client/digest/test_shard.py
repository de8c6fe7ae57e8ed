"""Shards: a stable hash splits subscribers into disjoint parts that cover everyone."""

from __future__ import annotations

import pytest

from papersift.client.digest import Shard, parse_shard, shard_of


def test_shards_partition_the_users() -> None:
    users = [f"user-{n}" for n in range(500)]
    parts = [set(Shard(i, 4).select(users, str)) for i in range(4)]
    assert set().union(*parts) == set(users)
    assert sum(len(part) for part in parts) == len(users)
    assert all(len(part) > 50 for part in parts)  # a hash, not everyone in one shard


def test_the_hash_is_stable_across_processes() -> None:
    # sha256("alice") starts 2bd806c97f0e00af: the value every machine computes.
    assert shard_of("alice", 1000) == 0x2BD806C97F0E00AF % 1000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3", "is not i/N"),
        ("a/b", "is not i/N"),
        ("-1/4", "is not i/N"),
        ("4/4", "shard index must be 0 to 3 for 4 shards, got 4"),
        ("0/0", "the number of shards must be at least 1"),
    ],
)
def test_bad_shards_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_shard(text)


def test_parse_shard() -> None:
    assert parse_shard(" 2/8 ") == Shard(2, 8)
    assert str(Shard(2, 8)) == "2/8"
