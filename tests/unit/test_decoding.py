"""The shared decoding path refuses hostile input with DecodeError, never another exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_src.common import decoding
from lambda_src.common.decoding import DecodeError


def test_deep_nesting_is_refused_before_parsing():
    raw = "[" * 1000 + "]" * 1000
    with pytest.raises(DecodeError) as err:
        decoding.json_document(raw)
    assert err.value.code == "invalid_json"
    with pytest.raises(DecodeError):
        decoding.json_document('{"a":' * 1000 + "1" + "}" * 1000)


def test_brackets_inside_strings_do_not_count_as_depth():
    value = {"v": "[" * 5000}
    assert decoding.json_document(json.dumps(value)) == value


def test_lone_surrogates_are_refused_in_keys_and_values():
    for raw in ('{"email": "a\\ud800@example.com"}', '{"\\udfff": 1}', '["ok", ["\\ud83d"]]'):
        with pytest.raises(DecodeError):
            decoding.json_document(raw)
    # a proper surrogate pair is text
    assert decoding.json_document('{"e": "\\ud83d\\ude00"}') == {"e": "\U0001F600"}


def test_size_cap():
    with pytest.raises(DecodeError) as err:
        decoding.json_document("1" * 20, max_bytes=10)
    assert err.value.code == "body_too_large"


def test_json_object_requires_an_object():
    assert decoding.json_object("") == {}
    for raw in ("[]", "1", '"x"', "null"):
        with pytest.raises(DecodeError):
            decoding.json_object(raw)


def test_cursor_round_trip_and_garbage():
    token = decoding.b64url_encode_json({"pk": "a", "n": 1})
    assert decoding.b64url_json(token) == {"pk": "a", "n": 1}
    deep = decoding.b64url_encode_json([]).replace("W10", "")  # empty
    for bad in ("", "!!!", "é", deep, decoding.b64url_encode_json([1]), "x" * 5000,
                __import__("base64").urlsafe_b64encode(b"[" * 1000).decode()):
        with pytest.raises(DecodeError) as err:
            decoding.b64url_json(bad)
        assert err.value.code == "invalid_cursor"


@pytest.mark.parametrize("raw", ["²", "³", "①", "١", "", "-1", "1.5", " 1", "1e3", "9" * 40, None, True, [], "0"])
def test_ascii_int_refuses_what_int_cannot_take_or_range_excludes(raw):
    with pytest.raises(DecodeError):
        decoding.ascii_int(raw, code="invalid_limit", minimum=1, maximum=100)


def test_ascii_int_accepts_ascii_digits_in_range():
    assert decoding.ascii_int("42", code="c", minimum=1, maximum=100) == 42
    assert decoding.ascii_int(7, code="c", minimum=1, maximum=100) == 7


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_input_decodes_or_raises_decode_error(raw):
    for call in (decoding.json_document, decoding.json_object):
        try:
            call(raw)
        except DecodeError:
            pass
    if isinstance(raw, str):
        try:
            decoding.b64url_json(raw)
        except DecodeError:
            pass
        try:
            decoding.ascii_int(raw, code="c", minimum=0, maximum=10**9)
        except DecodeError:
            pass
