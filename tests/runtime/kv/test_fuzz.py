"""Arbitrary paths, headers, query strings and bodies: never a 5xx, always a JSON body."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_src.kv.api import handler

from .conftest import event

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
_BODIES = st.one_of(
    st.none(), st.text(max_size=40),
    _JSON.map(json.dumps),
    st.fixed_dictionaries({"value": _JSON}, optional={"ttl": _JSON, "email": _JSON, "plan": _JSON}).map(json.dumps),
)
_HEADER_NAMES = st.sampled_from(["x-api-key", "X-Api-Key", "If-Match", "Content-Type", "x-other"])
_HEADERS = st.dictionaries(_HEADER_NAMES, st.text(max_size=30), max_size=4)
_QUERY = st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["prefix", "limit", "cursor", "force", "junk"]), st.text(max_size=30), max_size=4))


@pytest.fixture
def owner(kv):
    """A user with one namespace (ns1) that the generated requests may reach."""
    assert kv.call("PUT", "/namespaces/ns1").status == 201
    return kv


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]), path=_PATHS,
       headers=_HEADERS, query=_QUERY, body=_BODIES, authenticated=st.booleans())
def test_never_a_5xx_and_always_json(owner, method, path, headers, query, body, authenticated):
    if authenticated:
        headers = {**headers, "x-api-key": owner.api_key}
    raw = handler(event(method, path, headers=headers, query=query, body=body), None)
    assert raw["statusCode"] < 500, (raw, method, path)
    assert isinstance(json.loads(raw["body"]), dict)
