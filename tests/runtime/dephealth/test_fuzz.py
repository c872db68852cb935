"""Generated API Gateway events against both DepHealth APIs: the error contract holds.

For each API, at least 1,000 events per run: every method, every route (and
unknown ones) with garbage path segments, query parameters (tokens, limits in
Unicode digits, forged and deeply nested cursors), headers (``x-api-key``,
content types) and bodies (invalid JSON, deep nesting, lone surrogates, huge
strings, wrong types, nulls, arrays). Every answer is below 500, is JSON, and
every 4xx carries ``error`` and ``message``.
"""

from __future__ import annotations

import base64
import functools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_src.common.decoding import b64url_encode_json
from lambda_src.dephealth import auth_api, packages_api

from .conftest import LambdaContext, api_event

EXAMPLES = 1000
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

# Hypothesis favours small integers; nesting depths are drawn from both sides of every limit instead.
DEPTHS = st.sampled_from([1, 4, 32, 33, 500, 999, 1000, 1001, 1500, 3000])
SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\ud800@example.com", "\udc00x"])
ODD_DIGITS = st.sampled_from(["²", "³", "①", "٣", "߀", "１０", "1e3", "-1", "0", "01", "9" * 40, " 5", "5 "])
GARBAGE = st.one_of(
    st.text(max_size=30), SURROGATES, ODD_DIGITS, st.just(""), st.just("x" * 70_000),
    st.sampled_from(["%", "%ZZ", "%2F", "../..", "@", "@types/node", "npm", "high", "a@b.co", "null", "[]", "{}"]),
)


def _deep(n: int, opener: str = "[", closer: str = "]") -> str:
    return opener * n + closer * n


def _deep_object(n: int) -> str:
    return '{"a":' * n + "1" + "}" * n


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20), SURROGATES),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
EMAILS = st.one_of(st.emails().map(str), SURROGATES, st.text(max_size=40), st.integers(), st.none(),
                   st.lists(st.emails().map(str), max_size=2), st.just("a" * 400 + "@example.com"))
PACKAGE_ENTRIES = st.one_of(
    st.fixed_dictionaries({"ecosystem": st.one_of(st.sampled_from(["npm", "pypi", "maven"]), GARBAGE, st.none()),
                           "name": st.one_of(st.sampled_from(["express", "@types/node", "zope.interface"]),
                                             GARBAGE, st.integers(), st.none())}),
    JSON_VALUES,
)
BODIES = st.one_of(
    st.none(), st.just(""), GARBAGE,
    st.builds(json.dumps, st.fixed_dictionaries({"email": EMAILS})),
    st.builds('{{"email": "{}"}}'.format,
              st.sampled_from(["a\\ud800@example.com", "\\udfff@x.io", "b@\\ud83d.com"])),
    st.builds(json.dumps, st.fixed_dictionaries({"packages": st.one_of(st.lists(PACKAGE_ENTRIES, max_size=6),
                                                                       JSON_VALUES)})),
    st.builds(json.dumps, JSON_VALUES),
    DEPTHS.map(_deep),
    DEPTHS.map(_deep_object),
    DEPTHS.map(lambda n: '{"email": ' + _deep(n) + "}"),
    DEPTHS.map(lambda n: '{"packages": ' + _deep(n) + "}"),
    st.just('{"email": "' + "x" * 600_000 + '"}'),
    st.just("{\"packages\": [" + ",".join(['{"ecosystem":"npm","name":"x"}'] * 1500) + "]}"),
)


@functools.cache
def _cursor():
    return st.one_of(
        GARBAGE,
        st.builds(b64url_encode_json, JSON_VALUES),
        st.builds(b64url_encode_json, st.fixed_dictionaries(
            {"pk": st.text(max_size=10), "sk": st.text(max_size=10), "risk_level": st.sampled_from(["high", "low"]),
             "last_updated": st.one_of(st.text(max_size=10), st.integers(), SURROGATES)})),
        DEPTHS.map(
            lambda n: base64.urlsafe_b64encode(_deep(n).encode()).decode().rstrip("=")),
        st.just(base64.urlsafe_b64encode(b'{"pk": "\\ud800", "sk": "x"}').decode()),
        st.just(base64.urlsafe_b64encode(b"\xff\xfe").decode()),
    )


QUERY = st.dictionaries(
    st.one_of(st.sampled_from(["token", "risk_level", "limit", "cursor"]), st.text(max_size=6)),
    st.one_of(GARBAGE, st.sampled_from(["low", "medium", "high", "critical"]), _cursor(),
              st.just("a" * 43), st.just("a" * 64 + ".secret-part-of-a-token")),
    max_size=4,
)
HEADERS = st.fixed_dictionaries({}, optional={
    "x-api-key": st.one_of(GARBAGE, st.just("dh_" + "A" * 43), SURROGATES),
    "Content-Type": st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                     "application/json; charset=latin-1", "", "multipart/form-data"]),
    "X-API-KEY": st.text(max_size=10),
})
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


@functools.cache
def _paths(kind: str):
    segment = st.one_of(GARBAGE.filter(lambda s: "/" not in s and len(s) < 500), st.sampled_from(
        ["npm", "pypi", "maven", "express", "%40types%2Fnode", "@types", "node", "lodash.merge",
         "org.apache.commons:commons-lang3", "x" * 300]))
    if kind == "auth":
        fixed = st.sampled_from(["/signup", "/verify", "/auth/magic-link", "/auth/callback", "/auth", "/", ""])
    else:
        fixed = st.sampled_from(["/packages", "/packages/batch", "/packages/", "/", "/packages/npm"])
    return st.one_of(
        fixed,
        st.builds(lambda e, n: f"/packages/{e}/{n}", segment, segment),
        st.builds(lambda e, s, n: f"/packages/{e}/{s}/{n}", segment, segment, segment),
        st.text(max_size=40).map(lambda t: "/" + t),
    )


def _maybe(strategy, valid):
    """Half the time a valid value, so the garbage elsewhere reaches the deeper code."""
    return st.one_of(valid, strategy)


def _routes(kind: str):
    """(method, path, query, body) drawn per route, each part valid or garbage."""
    absent = st.none()
    if kind == "auth":
        tokens = st.fixed_dictionaries({}, optional={"token": _maybe(GARBAGE, st.just("a" * 43))})
        return st.one_of(
            st.tuples(st.just("POST"), st.sampled_from(["/signup", "/auth/magic-link"]), st.just({}), BODIES),
            st.tuples(st.just("POST"), st.sampled_from(["/signup", "/auth/magic-link"]), st.just({}),
                      st.builds(json.dumps, st.fixed_dictionaries({"email": EMAILS}))),
            st.tuples(st.just("GET"), st.sampled_from(["/verify", "/auth/callback"]), tokens, absent),
            st.tuples(METHODS, _paths(kind), QUERY, BODIES),
        )
    listing = st.fixed_dictionaries(
        {"risk_level": _maybe(GARBAGE, st.sampled_from(["low", "medium", "high", "critical"]))},
        optional={"limit": _maybe(ODD_DIGITS, st.sampled_from(["1", "50", "500"])), "cursor": _cursor()})
    return st.one_of(
        st.tuples(st.just("GET"), st.just("/packages"), listing, absent),
        st.tuples(st.just("GET"), _paths(kind).filter(lambda p: p.startswith("/packages/")), st.just({}), absent),
        st.tuples(st.just("POST"), st.just("/packages/batch"), st.just({}), BODIES),
        st.tuples(METHODS, _paths(kind), QUERY, BODIES),
    )


def _events(kind: str):
    fixture = "signup" if kind == "auth" else "package_get_demo"
    routes = _routes(kind)
    addresses = st.one_of(st.ip_addresses().map(str), st.sampled_from(["", "not-an-ip", "::ffff:1.2.3.4"]))

    @st.composite
    def build(draw):
        event = api_event(fixture)
        event["httpMethod"], event["path"], query, body = draw(routes)
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
        event["headers"] = draw(HEADERS)
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
        if body is not None and draw(st.booleans()) and all(not 0xD800 <= ord(c) <= 0xDFFF for c in body):
            event["body"], event["isBase64Encoded"] = base64.b64encode(body.encode()).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = body, False
        if draw(st.integers(0, 9)) == 0:
            event["isBase64Encoded"] = True  # a flag that lies about the body
        event["requestContext"]["identity"]["sourceIp"] = draw(addresses)
        return event

    return build()


def _check(handler, event) -> tuple[int, dict]:
    response = handler(event, LambdaContext())
    status = response["statusCode"]
    assert status < 500, (status, response["body"][:300], event["httpMethod"], event["path"][:80])
    body = json.loads(response["body"])
    assert isinstance(body, dict)
    if 400 <= status < 500:
        assert isinstance(body.get("error"), str) and body["error"]
        assert isinstance(body.get("message"), str) and body["message"]
    return status, body


@SETTINGS
@given(event=_events("auth"))
def test_auth_api_keeps_the_error_contract(aws, mail_queue, event):
    _check(auth_api.handler, event)


@SETTINGS
@given(event=_events("packages"))
def test_packages_api_keeps_the_error_contract(aws, event):
    _check(packages_api.handler, event)
