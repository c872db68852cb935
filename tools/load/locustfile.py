"""Locust users for ``make load``: a realistic mix against the deployed KV and DepHealth APIs.

Runs in ``.venv-load`` (Locust and the standard library only). The driver
(``tools/load/__main__.py``) passes the URLs and the DepHealth API keys in
``LOAD_CONFIG`` (a JSON file) and reads back ``LOAD_LEDGER``: per KV user
and per DepHealth key, how many requests succeeded, so it can check the
counters the services keep.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid

from locust import HttpUser, between, events, task

CONFIG = json.loads(open(os.environ["LOAD_CONFIG"]).read())
LEDGER: dict[str, dict] = {"kv": {}, "dephealth": {}}
_KEYS = itertools.cycle(CONFIG["dephealth_keys"])
PACKAGES = [("npm", "express"), ("npm", "left-pad"), ("pypi", "requests"), ("pypi", "pyyaml"), ("npm", "nope")]


_CLIENTS = itertools.count(1)


def client_address() -> str:
    """A distinct address per simulated client (198.18.0.0/15, the benchmarking range).

    The local target takes a request's ``sourceIp`` from ``X-Forwarded-For``;
    each simulated user is its own client, as real users are, so the KV
    signup limit per source applies to each one separately.
    """
    n = next(_CLIENTS)
    return f"198.18.{n // 250}.{n % 250 + 1}"


class KvUser(HttpUser):
    """Signs up once (as its own client address), then puts, gets, lists and deletes keys in its namespace."""

    host = CONFIG["kv_url"]
    wait_time = between(0.05, 0.2)
    weight = 3

    def on_start(self) -> None:
        with self.client.post("/users", json={"email": f"load-{uuid.uuid4().hex[:10]}@example.com"},
                              headers={"X-Forwarded-For": client_address()},
                              name="POST /users", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"signup answered {r.status_code}")
                raise RuntimeError("signup failed")
            self.api_key = r.json()["apiKey"]
        self.headers = {"x-api-key": self.api_key}
        self.ns = f"load-{uuid.uuid4().hex[:10]}"
        self.keys: list[str] = []
        self.ok = 0
        LEDGER["kv"][self.api_key] = {"ok": 0}
        self._call("put", f"/namespaces/{self.ns}", "PUT /namespaces/{ns}")

    def _call(self, method: str, path: str, name: str, **kwargs):
        with self.client.request(method, path, name=name, headers=self.headers, catch_response=True,
                                 **kwargs) as r:
            if r.status_code >= 500:
                r.failure(f"{r.status_code}")
            elif 200 <= r.status_code < 300:
                LEDGER["kv"][self.api_key]["ok"] += 1
                r.success()
            else:
                r.success()  # a 4xx is an answer, checked by the tests, not a failure of the system
            return r

    @task(3)
    def put_key(self) -> None:
        key = f"k{random.randrange(50)}"
        r = self._call("put", f"/namespaces/{self.ns}/keys/{key}", "PUT /namespaces/{ns}/keys/{key}",
                       json={"value": {"n": random.randrange(10**6), "pad": "x" * random.randrange(200)}})
        if r.status_code in (200, 201) and key not in self.keys:
            self.keys.append(key)

    @task(5)
    def get_key(self) -> None:
        if self.keys:
            key = random.choice(self.keys)
            self._call("get", f"/namespaces/{self.ns}/keys/{key}", "GET /namespaces/{ns}/keys/{key}")

    @task(2)
    def list_keys(self) -> None:
        self._call("get", f"/namespaces/{self.ns}/keys?prefix=k&limit=20", "GET /namespaces/{ns}/keys")

    @task(1)
    def delete_key(self) -> None:
        if self.keys:
            key = self.keys.pop(random.randrange(len(self.keys)))
            self._call("delete", f"/namespaces/{self.ns}/keys/{key}", "DELETE /namespaces/{ns}/keys/{key}")


class DepHealthUser(HttpUser):
    """Keyed package reads, risk listings and batch reads."""

    host = CONFIG["dephealth_url"]
    wait_time = between(0.05, 0.2)
    weight = 2

    def on_start(self) -> None:
        self.key = next(_KEYS)
        self.headers = {"x-api-key": self.key}
        LEDGER["dephealth"].setdefault(self.key, {"ok": 0})

    def _call(self, method: str, path: str, name: str, **kwargs) -> None:
        with self.client.request(method, path, name=name, headers=self.headers, catch_response=True,
                                 **kwargs) as r:
            if r.status_code >= 500:
                r.failure(f"{r.status_code}")
                return
            if r.status_code in (200, 404):
                LEDGER["dephealth"][self.key]["ok"] += 1
            r.success()

    @task(5)
    def get_package(self) -> None:
        eco, name = random.choice(PACKAGES)
        self._call("get", f"/packages/{eco}/{name}", "GET /packages/{ecosystem}/{name}")

    @task(2)
    def risk_listing(self) -> None:
        self._call("get", f"/packages?risk_level={random.choice(['low', 'high'])}", "GET /packages?risk_level")

    @task(1)
    def batch(self) -> None:
        body = {"packages": [{"ecosystem": e, "name": n} for e, n in random.sample(PACKAGES, 3)]}
        self._call("post", "/packages/batch", "POST /packages/batch", json=body)


class FloorUser(HttpUser):
    """The floor: the same gateway in front of a function that returns a constant."""

    host = CONFIG["floor_url"]
    wait_time = between(0.05, 0.2)
    weight = 1

    @task
    def constant(self) -> None:
        self.client.get("/constant", name="GET floor (constant function)")


@events.quitting.add_listener
def _write_ledger(environment, **_kwargs) -> None:
    with open(os.environ["LOAD_LEDGER"], "w") as out:
        json.dump(LEDGER, out)
