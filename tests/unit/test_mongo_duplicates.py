"""What counts as "already there": `insert_new` and `only_duplicates` are the one place that reads a bulk write's
errors, so a duplicate key is told apart from every other failure the same way everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import BulkWriteError

from shared.platform.mongo import DUPLICATE_KEY, insert_new, only_duplicates


def refused(*codes: int, write_concern: bool = False) -> BulkWriteError:
    details: dict[str, Any] = {
        "writeErrors": [{"index": index, "code": code, "errmsg": "refused"} for index, code in enumerate(codes)],
        "writeConcernErrors": [{"code": 64, "errmsg": "waiting for replication timed out"}] if write_concern else [],
        "nInserted": 0,
    }
    return BulkWriteError(details)


class Collection:
    def __init__(self, error: BulkWriteError | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    async def insert_many(self, rows: list[dict[str, Any]], **options: Any) -> None:
        self.calls.append({"rows": rows, **options})
        if self.error is not None:
            raise self.error


def test_duplicates_are_told_by_their_index() -> None:
    assert only_duplicates(refused(DUPLICATE_KEY, DUPLICATE_KEY)) == {0, 1}


@pytest.mark.parametrize("error", [refused(DUPLICATE_KEY, 121), refused(DUPLICATE_KEY, write_concern=True)])
def test_any_other_failure_is_raised_as_it_was(error: BulkWriteError) -> None:
    """A document refused by validation (121), or a write not known to be durable, is not "already there"."""
    with pytest.raises(BulkWriteError) as raised:
        only_duplicates(error)
    assert raised.value is error


async def test_insert_new_writes_once_unordered_and_returns_what_was_there() -> None:
    collection = Collection(refused(DUPLICATE_KEY))
    rows = [{"_id": "a"}, {"_id": "b"}]
    assert await insert_new(collection, rows) == {0}  # type: ignore[arg-type]
    assert collection.calls == [{"rows": rows, "ordered": False, "session": None}]


async def test_insert_new_raises_what_is_not_a_duplicate() -> None:
    with pytest.raises(BulkWriteError):
        await insert_new(Collection(refused(121)), [{"_id": "a"}])  # type: ignore[arg-type]


async def test_nothing_to_insert_is_no_write() -> None:
    collection = Collection()
    assert await insert_new(collection, []) == set()  # type: ignore[arg-type]
    assert collection.calls == []  # insert_many refuses an empty list
