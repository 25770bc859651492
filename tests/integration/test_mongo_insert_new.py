"""`insert_new` on the MongoDB-wire server: rows already there (by a unique key) are left as they were and named
by their index; the others are written in the same call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.platform.mongo import insert_new, make_client


@pytest.fixture
async def client(mongo_url: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client = make_client(mongo_url)
    yield client
    await client.close()


async def test_rows_already_there_are_left_as_they_were(client, database_name: str) -> None:  # type: ignore[no-untyped-def]
    rows = client[database_name]["rows"]
    assert await insert_new(rows, [{"_id": "a", "v": 1}, {"_id": "b", "v": 1}]) == set()
    again = [{"_id": "c", "v": 2}, {"_id": "a", "v": 2}, {"_id": "d", "v": 2}, {"_id": "b", "v": 2}]
    assert await insert_new(rows, again) == {1, 3}
    stored = {row["_id"]: row["v"] for row in await rows.find().to_list()}
    assert stored == {"a": 1, "b": 1, "c": 2, "d": 2}


async def test_a_unique_index_other_than_the_id_counts_too(client, database_name: str) -> None:  # type: ignore[no-untyped-def]
    rows = client[database_name]["keyed"]
    await rows.create_index("key", unique=True)
    await insert_new(rows, [{"key": "k1"}])
    assert await insert_new(rows, [{"key": "k1"}, {"key": "k2"}]) == {0}
    assert await rows.count_documents({}) == 2
