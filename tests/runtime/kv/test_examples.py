"""The README's session (examples/kv/*.json) runs as documented: signup, put, get, list."""

from __future__ import annotations

import json
from pathlib import Path

from lambda_src.kv.api import handler

from .conftest import LambdaContext

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "kv"
PLACEHOLDER = "YOUR_API_KEY"


def invoke(name: str, api_key: str = "") -> tuple[int, dict]:
    event = json.loads((EXAMPLES / f"{name}.json").read_text().replace(PLACEHOLDER, api_key))
    raw = handler(event, LambdaContext())
    return raw["statusCode"], json.loads(raw["body"])


def test_documented_session(kv):
    status, body = invoke("signup")
    assert status == 201
    key = body["apiKey"]
    assert invoke("create-namespace", key)[0] == 201
    assert invoke("put-key", key)[0] == 201
    assert invoke("put-key-ttl", key)[0] == 201
    status, body = invoke("get-key", key)
    assert (status, body["value"]) == (200, {"enabled": True, "rollout": 0.25})
    status, body = invoke("list-keys", key)
    assert [k["key"] for k in body["keys"]] == ["feature/beta-search", "feature/dark-mode"]
    assert invoke("me", key)[1]["requestCount"] == 6
    assert invoke("delete-key", key)[0] == 200
    assert invoke("me", "kv_wrong")[0] == 401
