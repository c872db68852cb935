"""batch_get_packages under injected UnprocessedKeys, throttling and a deadline."""

from __future__ import annotations

import random

import pytest

from lambda_src.dephealth import batch as batch_mod
from lambda_src.dephealth.batch import BatchIncomplete
from lambda_src.dephealth.packages import batch_get_packages

from .conftest import PACKAGES_TABLE
from .faults import FaultyClient


def _load(aws, n: int) -> list[tuple[str, str]]:
    names = [("npm", f"pkg-{i:05d}") for i in range(n)]
    for start in range(0, n, 25):
        aws.batch_write_item(RequestItems={PACKAGES_TABLE: [
            {"PutRequest": {"Item": {"pk": {"S": f"{e}#{name}"}, "sk": {"S": "LATEST"},
                                     "name": {"S": name}}}} for e, name in names[start:start + 25]]})
    return names


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_every_key_comes_back_despite_unprocessed_keys(aws):
    names = _load(aws, 400)
    client = FaultyClient(aws, unprocessed_fraction=0.3)
    sleeps = Sleeps()
    found = batch_get_packages(client, names, sleep=sleeps, rng=random.Random(1))
    assert sorted(found) == sorted(names)
    assert max(client.batch_sizes) <= 100
    # Unprocessed keys ride along in full requests: close to ceil(n/100) / (1 - p).
    assert client.calls <= 6 + 4  # floor ceil(4 / 0.7) = 6, plus the tail of retries
    assert all(0 <= s <= 1.0 for s in sleeps) and len(sleeps) <= client.calls


def test_throttling_errors_are_retried(aws):
    names = _load(aws, 250)
    client = FaultyClient(aws, throttle_calls={1, 2, 4})
    sleeps = Sleeps()
    found = batch_get_packages(client, names, sleep=sleeps, rng=random.Random(2))
    assert sorted(found) == sorted(names)
    assert client.calls == 3 + 3
    assert len(sleeps) == 3


def test_backoff_grows_exponentially_and_is_capped(aws):
    names = _load(aws, 10)
    client = FaultyClient(aws, always_unprocessed=True)
    sleeps = Sleeps()

    class Rng:
        def uniform(self, low, high):
            return high  # the upper bound of the jitter window

    ticks = iter(range(100))
    with pytest.raises(BatchIncomplete) as info:
        batch_mod.batch_get(client, PACKAGES_TABLE, [{"pk": {"S": f"npm#{n}"}, "sk": {"S": "LATEST"}}
                                                     for _, n in names],
                            sleep=sleeps, rng=Rng(), clock=lambda: next(ticks), deadline_s=10,
                            base_s=0.02, cap_s=0.3)
    assert sleeps[:5] == pytest.approx([0.04, 0.08, 0.16, 0.3, 0.3])
    assert len(info.value.missing) == 10 and info.value.requests == 10


def test_a_deadline_raises_instead_of_dropping_keys(aws):
    names = _load(aws, 150)
    client = FaultyClient(aws, unprocessed_fraction=0.5)
    now = [0.0]

    def sleep(seconds):
        now[0] += 1.0

    with pytest.raises(BatchIncomplete) as info:
        batch_get_packages(client, names, sleep=sleep, clock=lambda: now[0], deadline_s=1.5)
    assert info.value.missing and info.value.requests == 2


def test_other_errors_propagate(aws):
    client = FaultyClient(aws)
    too_many = [("npm", f"x{i}") for i in range(5)]

    def broken(**_):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "BatchGetItem")

    client.batch_get_item = broken
    with pytest.raises(Exception, match="AccessDenied"):
        batch_get_packages(client, too_many)
