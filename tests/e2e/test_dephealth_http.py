"""The DepHealth API as deployed: signup and login by mail through SES, packages by key, bad input."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, quote, urlparse

import pytest

from tests.e2e.conftest import assert_error_shape, eventually
from tools.local import mail

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(deployment):
    return deployment.api_url("DepHealth")


def _token_from_mail(port: int, address: str, path: str, after: set[str]) -> str:
    def newest():
        for message in reversed(mail.messages(port)):
            if message.message_id in after or address not in message.to:
                continue
            for link in message.links:
                parsed = urlparse(link)
                if parsed.path.endswith(path):
                    return parse_qs(parsed.query)["token"][0]
        return None

    return eventually(newest, timeout=60, what=f"a mail to {address} with a {path} link")


def _sent_ids(port: int) -> set[str]:
    return {m.message_id for m in mail.messages(port)}


@pytest.fixture(scope="module")
def account(deployment, api, http):
    """Sign up, verify from the mail, log in by magic link: the full flow over HTTP."""
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    before = _sent_ids(deployment.port)
    answer = http("POST", f"{api}/signup", body={"email": email})
    assert answer.status == 202, answer.raw
    token = _token_from_mail(deployment.port, email, "/verify", before)
    verified = http("GET", f"{api}/verify?token={quote(token)}")
    assert verified.status == 201, verified.raw
    api_key = verified.body["api_key"]

    before = _sent_ids(deployment.port)
    assert http("POST", f"{api}/auth/magic-link", body={"email": email}).status == 202
    login = _token_from_mail(deployment.port, email, "/auth/callback", before)
    callback = http("GET", f"{api}/auth/callback?token={quote(login)}")
    assert callback.status == 200, callback.raw
    replay = http("GET", f"{api}/auth/callback?token={quote(login)}")
    assert_error_shape(replay, 400)
    assert replay.body["error"] == "token_already_used"
    return {"email": email, "api_key": api_key, "user": callback.body["user"]}


def test_login_flow_returns_the_user(account):
    assert account["user"]["email"] == account["email"]


def test_package_lookup_with_the_key(api, http, account, deployment):
    answer = http("GET", f"{api}/packages/npm/left-pad", headers={"x-api-key": account["api_key"]})
    assert answer.status in (200, 404), answer.raw
    if answer.status == 404:
        assert_error_shape(answer)
    else:
        assert answer.body["name"] == "left-pad"


def test_risk_listing_and_batch(api, http, account):
    key = {"x-api-key": account["api_key"]}
    listing = http("GET", f"{api}/packages?risk_level=high", headers=key)
    assert listing.status == 200, listing.raw
    batch = http("POST", f"{api}/packages/batch", headers=key,
                 body={"packages": [{"ecosystem": "npm", "name": "left-pad"}, {"ecosystem": "pypi", "name": "nope"}]})
    assert batch.status == 200, batch.raw


def test_demo_allowance_without_a_key(api, http):
    answer = http("GET", f"{api}/packages/npm/left-pad")
    assert answer.status in (200, 404, 429), answer.raw
    if answer.status != 200:
        assert_error_shape(answer)


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/no/such/route", None),
    ("POST", "/signup", b"{not json"),
    ("POST", "/signup", b'{"email": "a\\ud800@example.com"}'),
    ("POST", "/signup", b"[" * 1000 + b"]" * 1000),
    ("POST", "/auth/magic-link", b'{"email": 5}'),
    ("GET", "/verify?token=short", None),
    ("GET", "/auth/callback", None),
    ("GET", "/packages?risk_level=nope", None),
    ("GET", "/packages?risk_level=high&cursor=" + "W" * 50, None),
    ("POST", "/packages/batch", b'{"packages": "x"}'),
])
def test_bad_requests_answer_4xx_in_the_error_shape(api, http, account, method, path, body):
    answer = http(method, f"{api}{path}", raw=body, headers={"x-api-key": account["api_key"]})
    assert 400 <= answer.status < 500, (answer.status, answer.raw[:300])
    assert_error_shape(answer)


def test_wrong_api_key_is_401(api, http):
    answer = http("GET", f"{api}/packages/npm/left-pad", headers={"x-api-key": "dh_" + "x" * 40})
    assert_error_shape(answer)
    assert answer.status in (401, 403)


def test_mail_cli_lists_links(deployment, account):
    import subprocess
    import sys

    from tools.local.env import ROOT

    proc = subprocess.run([sys.executable, "-m", "tools.local", "mail", "--to", account["email"],
                           "--port", str(deployment.port)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert account["email"] in proc.stdout and "token=" in proc.stdout
    json.dumps(proc.stdout)  # printable text
