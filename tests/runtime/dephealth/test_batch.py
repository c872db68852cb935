"""batch_get / batch_get_packages under injected UnprocessedKeys, throttling and a deadline.

The moto tests pin ``concurrency=1`` where they count exact calls or sleeps; the
concurrent reader is tested with real threads against ``MemoryClient``, an
in-memory BatchGetItem that holds keys back, adds latency and records what was
in flight at once."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    now = [0.0]

    def sleep(seconds):
        sleeps(seconds)
        now[0] += seconds

    # One request at a time and a clock that moves only while backing off: the same draws every run.
    found = batch_get_packages(client, names, sleep=sleep, clock=lambda: now[0], rng=random.Random(1),
                               concurrency=1)
    assert sorted(found) == sorted(names)
    assert max(client.batch_sizes) <= 100
    # Unprocessed keys ride along in full requests: close to ceil(n/100) / (1 - p).
    assert client.calls <= 6 + 4  # floor ceil(4 / 0.7) = 6, plus the tail of retries
    assert all(0 <= s <= 1.0 for s in sleeps) and len(sleeps) <= client.calls


def test_throttling_errors_are_retried(aws):
    names = _load(aws, 250)
    client = FaultyClient(aws, throttle_calls={1, 2, 4})
    sleeps = Sleeps()
    now = [0.0]

    def sleep(seconds):
        sleeps(seconds)
        now[0] += seconds

    class Rng(random.Random):
        def uniform(self, low, high):
            return high

    found = batch_get_packages(client, names, sleep=sleep, clock=lambda: now[0], rng=Rng(), concurrency=1)
    assert sorted(found) == sorted(names)
    assert client.calls == 3 + 3
    # Calls 1 and 2 (fresh) are throttled: their keys are ready at 0.04 and 0.08 (streak 1, 2).
    # Call 3 (the 50 fresh keys) goes at once; call 4 waits 0.04 for call 1's keys and is throttled
    # again (ready at 0.04 + 0.16); call 5 waits 0.04 more for call 2's keys, call 6 0.12 for call 4's.
    assert sleeps == pytest.approx([0.04, 0.04, 0.12])


def test_backoff_grows_exponentially_and_is_capped(aws):
    names = _load(aws, 10)
    client = FaultyClient(aws, always_unprocessed=True)
    sleeps = Sleeps()

    class Rng(random.Random):
        def uniform(self, low, high):
            return high  # the upper bound of the jitter window

    now = [0.0]

    def sleep(seconds):
        sleeps(seconds)
        now[0] += seconds

    with pytest.raises(BatchIncomplete) as info:
        batch_mod.batch_get(client, PACKAGES_TABLE, [{"pk": {"S": f"npm#{n}"}, "sk": {"S": "LATEST"}}
                                                     for _, n in names],
                            sleep=sleep, rng=Rng(), clock=lambda: now[0], deadline_s=2.0,
                            base_s=0.02, cap_s=0.3)
    assert sleeps[:6] == pytest.approx([0.04, 0.08, 0.16, 0.3, 0.3, 0.3])
    # 0.04 + 0.08 + 0.16 + 0.3 * 5 = 1.78 s of backoff fit before the 2 s deadline; the next would not.
    assert len(sleeps) == 8 and info.value.requests == 9
    assert len(info.value.missing) == 10


def test_a_deadline_raises_instead_of_dropping_keys(aws):
    names = _load(aws, 150)
    client = FaultyClient(aws, unprocessed_fraction=0.5)
    now = [0.0]

    def sleep(seconds):
        now[0] += 1.0

    with pytest.raises(BatchIncomplete) as info:
        batch_get_packages(client, names, sleep=sleep, clock=lambda: now[0], deadline_s=1.5, concurrency=1)
    # 100 fresh, then the 50 fresh ones alone (fresh keys never wait), then two requests of held
    # keys, each after a backoff that moves the clock 1 s; at 2 s the deadline has passed.
    assert info.value.requests == 4 and info.value.missing
    wanted = {("npm", n) for _, n in names}
    assert len(info.value.missing) == len({tuple(sorted(k["pk"].items())) for k in info.value.missing})
    assert {("npm", k["pk"]["S"].split("#", 1)[1]) for k in info.value.missing} <= wanted


def test_other_errors_propagate(aws, monkeypatch):
    client = FaultyClient(aws)
    too_many = [("npm", f"x{i}") for i in range(5)]

    def broken(**_):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "BatchGetItem")

    monkeypatch.setattr(client, "batch_get_item", broken)
    with pytest.raises(Exception, match="AccessDenied"):
        batch_get_packages(client, too_many)


def test_every_key_comes_back_with_requests_in_flight_on_moto(aws):
    names = _load(aws, 1000)
    client = FaultyClient(aws, unprocessed_fraction=0.3, seed=4)
    found = batch_get_packages(client, names, rng=random.Random(3))
    assert sorted(found) == sorted(names)
    assert max(client.batch_sizes) <= 100


# --- the concurrent reader, with real threads --------------------------------------------------


class MemoryClient:
    """BatchGetItem over an in-memory table: held keys, latency, and a record of what overlapped.

    Holding back is drawn per request from a seeded generator under a lock.
    ``overlap`` counts keys that were in two requests in flight at once;
    ``fresh_after_sleep`` counts requests carrying a never-sent key that the
    sending thread slept before (fresh keys must never wait).
    """

    def __init__(self, table: str, items: list[dict], *, fraction: float = 0.0, seed: int = 0,
                 latency_s: float = 0.0, per_key_s: float = 0.0, hold_all_calls: int = 0):
        self.table, self.fraction, self.latency_s, self.per_key_s = table, fraction, latency_s, per_key_s
        self.items = {self._id(i): i for i in items}
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.hold_all_calls = hold_all_calls
        self.calls = 0
        self.sizes: list[int] = []
        self.in_flight: set = set()
        self.max_in_flight = self.overlap = self.fresh_after_sleep = 0
        self.sent: set = set()
        self.returned: list[dict] = []
        self.slept = threading.local()

    @staticmethod
    def _id(item: dict) -> str:
        return item["pk"]["S"]

    def sleep(self, seconds: float) -> None:
        self.slept.flag = True
        time.sleep(seconds)

    def batch_get_item(self, RequestItems):
        [(table, request)] = RequestItems.items()
        assert table == self.table
        ids = [self._id(k) for k in request["Keys"]]
        slept, self.slept.flag = getattr(self.slept, "flag", False), False
        with self.lock:
            self.calls += 1
            call = self.calls
            self.sizes.append(len(ids))
            self.overlap += len(self.in_flight & set(ids))
            self.in_flight |= set(ids)
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
            if slept and not set(ids) <= self.sent:
                self.fresh_after_sleep += 1
            self.sent |= set(ids)
            held = set(ids) if call <= self.hold_all_calls else {i for i in ids if self.rng.random() < self.fraction}
        try:
            if len(ids) > 100 or len(set(ids)) != len(ids):
                raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad keys"}},
                                  "BatchGetItem")
            time.sleep(self.latency_s + self.per_key_s * len(ids))
            served = [self.items[i] for i in ids if i not in held and i in self.items]
            with self.lock:
                self.returned.extend(served)
            unprocessed = [k for k in request["Keys"] if self._id(k) in held]
            return {"Responses": {table: served},
                    "UnprocessedKeys": {table: {"Keys": unprocessed}} if unprocessed else {}}
        finally:
            with self.lock:
                self.in_flight -= set(ids)


def _items(n: int, missing_every: int = 0) -> tuple[list[dict], list[dict]]:
    keys = [{"pk": {"S": f"npm#p{i:05d}"}, "sk": {"S": "LATEST"}} for i in range(n)]
    items = [{**k, "n": {"N": str(i)}} for i, k in enumerate(keys) if not (missing_every and i % missing_every == 0)]
    return keys, items


def _floor(n: int, p: float) -> float:
    return math.ceil(n / 100) / (1 - p)


def test_requests_are_in_flight_together_and_bounded_by_the_pool():
    keys, items = _items(3000)
    client = MemoryClient("t", items, latency_s=0.05)
    stats: dict[str, Any] = {}
    started = time.perf_counter()
    found = batch_mod.batch_get(client, "t", keys, concurrency=4, stats=stats, sleep=client.sleep)
    elapsed = time.perf_counter() - started
    assert sorted(i["pk"]["S"] for i in found) == sorted(i["pk"]["S"] for i in items)
    assert stats["requests"] == client.calls == 30 and set(client.sizes) == {100}
    assert 300 < client.max_in_flight <= 400  # more than one request at once, never more than four
    assert elapsed < 30 * 0.05 / 2  # sequential takes 1.5 s, four at a time 0.4 s


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 2500), p=st.floats(0.0, 0.6), seed=st.integers(0, 2**16),
       concurrency=st.integers(1, 8), missing_every=st.integers(0, 7), duplicates=st.integers(0, 50))
def test_no_key_is_lost_or_duplicated_whatever_the_order_of_answers(n, p, seed, concurrency, missing_every,
                                                                    duplicates):
    keys, items = _items(n, missing_every)
    asked = keys + keys[:duplicates]  # a caller's repeated keys are read once
    random.Random(seed).shuffle(asked)
    client = MemoryClient("t", items, fraction=p, seed=seed, latency_s=0.0005)
    found = batch_mod.batch_get(client, "t", asked, concurrency=concurrency, sleep=client.sleep,
                                rng=random.Random(seed), base_s=0.001, cap_s=0.004)
    returned = Counter(i["pk"]["S"] for i in found)
    assert returned == Counter(i["pk"]["S"] for i in items)  # each existing key exactly once
    assert client.overlap == 0 and max(client.sizes) <= 100
    assert client.fresh_after_sleep == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(8000, 12000), p=st.floats(0.0, 0.3), seed=st.integers(0, 2**16))
def test_request_count_stays_within_a_tenth_of_the_floor(n, p, seed):
    """Thousands of keys: the last rounds of held keys (each a dependent round trip, so a
    request of fewer than 100 keys) add a handful of requests whatever n is; below about
    5,000 keys at p = 30 % that handful can pass a tenth of the floor."""
    keys, items = _items(n)
    client = MemoryClient("t", items, fraction=p, seed=seed, latency_s=0.001)
    stats: dict[str, Any] = {}
    found = batch_mod.batch_get(client, "t", keys, sleep=client.sleep, rng=random.Random(seed), stats=stats)
    assert len(found) == n
    assert stats["requests"] == client.calls <= 1.1 * _floor(n, p)


def test_fresh_keys_never_wait_for_a_backoff():
    keys, items = _items(2000)
    client = MemoryClient("t", items, fraction=0.3, seed=9, latency_s=0.005)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        client.sleep(seconds)

    found = batch_mod.batch_get(client, "t", keys, sleep=sleep, rng=random.Random(9), base_s=0.05, cap_s=0.2)
    assert len(found) == 2000
    assert client.fresh_after_sleep == 0
    without = MemoryClient("t", items, latency_s=0.005)
    batch_mod.batch_get(client=without, table="t", keys=keys, sleep=lambda s: slept.append(("p0", s)))
    assert not [s for s in slept if isinstance(s, tuple)]  # no held keys, no sleep at all


def test_the_deadline_bounds_the_whole_read_and_names_what_is_left():
    keys, items = _items(5000)

    class SlowLater(MemoryClient):
        """The first 16 requests answer in 20 ms, every later one in 3 s."""

        def batch_get_item(self, RequestItems):
            self.latency_s = 0.02 if self.calls < 16 else 3.0
            return super().batch_get_item(RequestItems)

    client = SlowLater("t", items, fraction=0.5, seed=1)
    started = time.perf_counter()
    with pytest.raises(BatchIncomplete) as info:
        batch_mod.batch_get(client, "t", keys, deadline_s=0.5, sleep=client.sleep)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.5  # the 3 s requests in flight at the deadline are not waited for
    missing = Counter(k["pk"]["S"] for k in info.value.missing)
    assert max(missing.values()) == 1 and 0 < len(missing) < 5000
    # What came back and what is reported missing are disjoint and together every key.
    returned = {k["pk"]["S"] for k in client.returned}
    assert not returned & set(missing) and returned | set(missing) == {k["pk"]["S"] for k in keys}
    assert info.value.requests == client.calls


def test_sustained_throttling_still_returns_every_key():
    keys, items = _items(1500)
    client = MemoryClient("t", items, hold_all_calls=40, latency_s=0.002)
    found = batch_mod.batch_get(client, "t", keys, sleep=client.sleep, base_s=0.001, cap_s=0.01)
    assert sorted(i["pk"]["S"] for i in found) == sorted(i["pk"]["S"] for i in items)
    assert client.calls > 40 and client.fresh_after_sleep == 0


def test_an_error_in_one_thread_reaches_the_caller():
    keys, items = _items(800)

    class Denied(MemoryClient):
        def batch_get_item(self, RequestItems):
            with self.lock:
                self.calls += 1
                call = self.calls
            if call == 3:
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "BatchGetItem")
            return super().batch_get_item(RequestItems)

    with pytest.raises(ClientError, match="AccessDenied"):
        batch_mod.batch_get(Denied("t", items, latency_s=0.01), "t", keys)
