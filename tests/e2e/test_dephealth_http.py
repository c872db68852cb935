"""The DepHealth API as deployed: signup and login by mail through SES, packages by key, bad input."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest

from tests.e2e.conftest import assert_error_shape
from tools.local import mail

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(deployment):
    return deployment.api_url("DepHealth")


@pytest.fixture(scope="module")
def account(deployment, api, http):
    """Sign up, verify from the mail, log in by magic link: the full flow over HTTP."""
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    answer = http("POST", f"{api}/signup", body={"email": email})
    assert answer.status == 202, answer.raw
    token = mail.wait_for_token(deployment.port, "/verify", to=email, timeout=60)
    verified = http("GET", f"{api}/verify?token={quote(token)}")
    assert verified.status == 201, verified.raw
    api_key = verified.body["api_key"]

    assert http("POST", f"{api}/auth/magic-link", body={"email": email}).status == 202
    login = mail.wait_for_token(deployment.port, "/auth/callback", to=email, timeout=60)
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
