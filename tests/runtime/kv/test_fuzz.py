"""Generated API Gateway events (1,000 per run): never a 5xx, always JSON, every 4xx with error and message."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_src.kv.api import handler

from .conftest import LambdaContext, event

_SEGMENTS = st.one_of(
    st.sampled_from(["users", "me", "namespaces", "keys", "ns1", "..", "%2F", "", "a" * 70]),
    st.text(min_size=0, max_size=20),
)
_PATHS = st.one_of(
    st.lists(_SEGMENTS, max_size=6).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(["/users", "/me", "/namespaces", "/namespaces/ns1", "/namespaces/ns1/keys",
                     "/namespaces/ns1/keys/a/b", "/namespaces/ns1/keys/x"]),
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\ud800", "a\udfff", "²", "③", "٣", "１", "-1", "0", "1e3", "", " ", "null", "[]",
                     "x" * 5000, "\x00"]),
)
_DEEP = st.integers(min_value=30, max_value=1500).flatmap(lambda n: st.sampled_from([
    "[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, '{"value": ' + "[" * n + "]" * n + "}",
    '{"email": ' + "[" * n + "]" * n + "}"]))
_BODIES = st.one_of(
    st.none(), st.text(max_size=40), _DEEP,
    st.sampled_from(['{"email": "a\\ud800@example.com"}', '{"value": "\\udc00"}', '{"plan": []}',
                     '{"email": "z@example.com", "plan": "scale"}', '{"value": null}', "null", "[]", "{",
                     '{"value": 1, "ttl": "²"}', '{"value": "' + "y" * 500_000 + '"}']),
    _JSON.map(json.dumps),
    st.fixed_dictionaries({"value": _JSON}, optional={"ttl": _JSON, "email": _JSON, "plan": _JSON}).map(json.dumps),
)
_HEADER_NAMES = st.sampled_from(["x-api-key", "X-Api-Key", "If-Match", "Content-Type", "x-other"])
_HEADERS = st.dictionaries(_HEADER_NAMES, _HOSTILE_TEXT, max_size=4)
_CURSORS = st.one_of(
    _HOSTILE_TEXT,
    st.builds(lambda a, b: f"{a}.{b}", st.text(alphabet="ABCabc012-_", max_size=60), st.text(max_size=44)),
    _JSON.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode()),
    _DEEP.map(lambda d: base64.urlsafe_b64encode(d.encode()).decode()),
)
_QUERY = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "prefix": _HOSTILE_TEXT, "limit": _HOSTILE_TEXT, "cursor": _CURSORS, "force": _HOSTILE_TEXT,
    "junk": _HOSTILE_TEXT}))


@pytest.fixture
def owner(kv):
    """A user with one namespace (ns1) that the generated requests may reach."""
    assert kv.call("PUT", "/namespaces/ns1").status == 201
    return kv


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]), path=_PATHS,
       headers=_HEADERS, query=_QUERY, body=_BODIES, authenticated=st.booleans())
def test_never_a_5xx_and_always_json(owner, method, path, headers, query, body, authenticated):
    if authenticated:
        headers = {**headers, "x-api-key": owner.api_key}
    raw = handler(event(method, path, headers=headers, query=query, body=body), LambdaContext())
    assert raw["statusCode"] < 500, (raw, method, path)
    reply = json.loads(raw["body"])
    assert isinstance(reply, dict)
    if 400 <= raw["statusCode"] < 500:
        assert isinstance(reply.get("error"), str) and reply["error"], reply
        assert isinstance(reply.get("message"), str) and reply["message"], reply
