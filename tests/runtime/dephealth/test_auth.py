"""Signup, verification and magic-link login against template-built moto tables."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from lambda_src.common import clock
from lambda_src.common.hashing import sha256_hex
from lambda_src.dephealth import auth_api
from lambda_src.dephealth.schema import API_KEYS
from tools.bench.counting import count_requests

from .conftest import API_KEYS_TABLE, MailBox, api_event, call, scan_all


def _records(ddb):
    """The users' records (the per-address mail counters aside)."""
    return [i for i in scan_all(ddb, API_KEYS_TABLE) if i["pk"].startswith("user_")]


def _user_item(ddb, email):
    items = [i for i in _records(ddb) if i.get("email") == email and i["sk"] != "PENDING"]
    assert len(items) == 1
    return items[0]


def test_signup_stores_only_a_hashed_token_with_24h_ttl(aws, mailbox):
    status, body = call(auth_api.handler, api_event("signup", body={"email": "Dave@Example.com"}))
    assert (status, set(body)) == (202, {"message"})
    token = mailbox.token("verify")
    [pending] = _records(aws)
    assert pending["sk"] == "PENDING" and pending["email"] == "dave@example.com"
    assert pending["verification_token"] == sha256_hex(token)
    assert 0 < pending["ttl"] - clock.now() <= 24 * 3600
    assert token not in json.dumps(pending)


def test_verify_creates_a_key_record_and_shows_the_key_once(aws, mailbox):
    call(auth_api.handler, api_event("signup", body={"email": "erin@example.com"}))
    token = mailbox.token("verify")
    status, body = call(auth_api.handler, api_event("verify", query={"token": token}))
    assert status == 201 and body["api_key"].startswith("dh_") and body["tier"] == "free"
    items = _records(aws)
    assert [i["sk"] for i in items] == [sha256_hex(body["api_key"])]
    assert items[0]["key_hash"] == sha256_hex(body["api_key"]) and items[0]["requests_this_month"] == 0
    dump = json.dumps(items)
    assert body["api_key"] not in dump and token not in dump
    status, again = call(auth_api.handler, api_event("verify", query={"token": token}))
    assert status == 400 and again["error"] == "invalid_token"


def test_verify_rejects_an_expired_signup(aws, mailbox, monkeypatch):
    call(auth_api.handler, api_event("signup", body={"email": "frank@example.com"}))
    token = mailbox.token("verify")
    later = clock.now() + 25 * 3600
    monkeypatch.setattr(clock, "now", lambda: later)
    status, body = call(auth_api.handler, api_event("verify", query={"token": token}))
    assert (status, body["error"]) == (400, "token_expired")


def test_signup_of_an_existing_user_keeps_the_account(aws, user, mailbox):
    status, _ = call(auth_api.handler, api_event("signup", body={"email": user["email"]}))
    assert status == 202 and mailbox.deliver() == 1 and mailbox.sent[-1]["kind"] == "already_registered"
    assert [i["sk"] for i in _records(aws)] == [sha256_hex(user["api_key"])]


def test_magic_link_login_consumes_the_token_in_two_requests(aws, user, mailbox):
    status, _ = call(auth_api.handler, api_event("magic_link", body={"email": user["email"]}))
    assert status == 202
    token = mailbox.token("magic_link")
    record = _user_item(aws, user["email"])
    assert record["magic_token"] == sha256_hex(token) and record["magic_expires"] > clock.now()
    assert token not in json.dumps(_records(aws))

    from lambda_src.common.aws_clients import dynamodb

    with count_requests(dynamodb()) as counter:
        status, body = call(auth_api.handler, api_event("callback", query={"token": token}))
    assert status == 200 and body["user"]["email"] == user["email"] and body["user"]["last_login"]
    assert dict(counter.by_operation) == {"Query": 1, "UpdateItem": 1}
    record = _user_item(aws, user["email"])
    assert "magic_token" not in record and "magic_expires" not in record

    status, body = call(auth_api.handler, api_event("callback", query={"token": token}))
    assert (status, body["error"]) == (400, "token_already_used")


def test_magic_link_for_an_unknown_email_answers_the_same_and_stores_nothing(aws, mailbox):
    status, body = call(auth_api.handler, api_event("magic_link", body={"email": "nobody@example.com"}))
    assert status == 202 and mailbox.deliver() == 1 and mailbox.sent == [] and _records(aws) == []


def test_expired_and_unknown_tokens_have_their_own_codes(aws, user, mailbox, monkeypatch):
    call(auth_api.handler, api_event("magic_link", body={"email": user["email"]}))
    token = mailbox.token("magic_link")
    status, body = call(auth_api.handler, api_event("callback", query={"token": "x" * 43}))
    assert (status, body["error"]) == (400, "invalid_token")
    forged = token.split(".")[0] + ".not-the-secret-at-all"
    status, body = call(auth_api.handler, api_event("callback", query={"token": forged}))
    assert (status, body["error"]) == (400, "invalid_token")
    later = clock.now() + 3600
    monkeypatch.setattr(clock, "now", lambda: later)
    status, body = call(auth_api.handler, api_event("callback", query={"token": token}))
    assert (status, body["error"]) == (400, "token_expired")


def test_a_newer_link_invalidates_the_older_one(aws, user, mailbox):
    call(auth_api.handler, api_event("magic_link", body={"email": user["email"]}))
    first = mailbox.token("magic_link")
    call(auth_api.handler, api_event("magic_link", body={"email": user["email"]}))
    assert mailbox.deliver() == 1
    status, body = call(auth_api.handler, api_event("callback", query={"token": first}))
    assert (status, body["error"]) == (400, "invalid_token")
    status, _ = call(auth_api.handler, api_event("callback", query={"token": mailbox.token("magic_link")}))
    assert status == 200


def test_concurrent_callbacks_with_one_token_succeed_exactly_once(aws, user, mailbox, atomic_moto):
    call(auth_api.handler, api_event("magic_link", body={"email": user["email"]}))
    token = mailbox.token("magic_link")
    threads = 32
    barrier = Barrier(threads)

    def redeem(_):
        barrier.wait()
        return call(auth_api.handler, api_event("callback", query={"token": token}))

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(redeem, range(threads)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [400] * (threads - 1)
    assert {body["error"] for status, body in results if status == 400} == {"token_already_used"}


def test_magic_token_index_is_the_schema_index(aws):
    # The handler reads the index through the schema; the template built the same name.
    names = {i["IndexName"] for i in aws.describe_table(TableName=API_KEYS_TABLE)["Table"]["GlobalSecondaryIndexes"]}
    assert {i.name for i in API_KEYS.indexes} == names


def test_mail_goes_out_through_ses_from_the_configured_identity(aws, mail_queue, monkeypatch, capsys):
    """No test double: the worker sends with SES (moto), from MAIL_FROM, and logs no link."""
    import boto3
    from moto.ses.models import ses_backends

    from lambda_src.dephealth import mailer

    monkeypatch.setenv("MAIL_FROM", "no-reply@dephealth.test")
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="no-reply@dephealth.test")
    assert isinstance(mailer.sender(), mailer.SesMailSender)
    status, _ = call(auth_api.handler, api_event("signup", body={"email": "gina@example.com"}))
    assert status == 202
    box = MailBox(mail_queue)  # drains the queue; the worker's sender stays SES
    assert box.deliver() == 1 and box.sent == []
    [sent] = ses_backends["123456789012"]["us-east-1"].sent_messages
    assert sent.source == "no-reply@dephealth.test" and sent.destinations["ToAddresses"] == ["gina@example.com"]
    token = sent.body.split("token=")[1].split()[0]
    assert _records(aws)[0]["verification_token"] == sha256_hex(token)
    assert token not in capsys.readouterr().out
