"""The source design's own schema change, rehearsed on the local target with users in the table.

Base: this app with `dephealth-api-keys` lacking `magic-token-index` and TTL,
holding users with pending magic links. The working tree is deployed over it
in place; afterwards every proof holds and those users log in by their link.
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest

from lambda_src.common.hashing import new_secret, sha256_hex
from lambda_src.common.requests import to_item
from tests.e2e.conftest import request
from tools.local import env as local
from tools.local.rehearse import checkout, rehearse, remove_checkout

pytestmark = pytest.mark.e2e
USERS = 12


def _drop(text: str, pattern: str, what: str) -> str:
    new, count = re.subn(pattern, "", text, count=1, flags=re.S)
    assert count == 1, f"the base edit did not find {what}"
    return new


def make_base(tree) -> None:
    """Remove magic-token-index, its access pattern and TTL from the api-keys declaration."""
    schema = tree / "lambda_src" / "dephealth" / "schema.py"
    text = schema.read_text()
    start = text.index("API_KEYS = TableSpec(")
    end = text.index("\n)\n", start)
    block = text[start:end]
    block = _drop(block, r'\n\s*ttl_attribute="ttl",', "ttl_attribute")
    block = _drop(block, r"\n\s*MAGIC_TOKEN_INDEX,", "MAGIC_TOKEN_INDEX in indexes")
    block = _drop(block, r'\n\s*AccessPattern\(\s*name="user-by-magic-token",.*?\n        \),',
                  "the magic-token pattern")
    schema.write_text(text[:start] + block + text[end:])
    service = tree / "stacks" / "dephealth" / "service.py"
    service.write_text(_drop(
        service.read_text(),
        r'\n\s*TableGrant\(_KEYS, \("dynamodb:Query",\), index_name=schema\.MAGIC_TOKEN_INDEX\.name\),',
        "the magic-token-index grant"))


def test_rehearsal_adds_the_magic_token_index_and_ttl_under_live_users(tmp_path):
    tree = tmp_path / "base"
    checkout("HEAD", tree)
    try:
        make_base(tree)
        tokens: dict[str, str] = {}

        def prepare(port, base):
            table = next(t for t in base.tables if t.spec is not None and t.spec.alias == "dephealth.api-keys")
            assert "magic-token-index" not in {g["IndexName"] for g in table.props["GlobalSecondaryIndexes"]}
            assert "TimeToLiveSpecification" not in table.props
            ddb = local.client("dynamodb", port)
            for i in range(USERS):
                email = f"pending-{i}@example.com"
                ehash = sha256_hex(email)
                raw_key = f"dh_{new_secret()}"
                raw = f"{ehash}.{new_secret()}"
                tokens[email] = raw
                ddb.put_item(TableName=table.name, Item=to_item({
                    "pk": f"user_{ehash}", "sk": sha256_hex(raw_key), "key_hash": sha256_hex(raw_key),
                    "email": email, "tier": "free", "created_at": "2026-10-01T12:00:00Z",
                    "magic_token": sha256_hex(raw), "magic_expires": int(time.time()) + 3600}))

        logins = {}

        def after(port, upgraded):
            api = upgraded.api_url("DepHealth")
            for email, raw in tokens.items():
                answer = request("GET", f"{api}/auth/callback?token={quote(raw)}")
                logins[email] = (answer.status, (answer.body or {}).get("user", {}).get("email"))

        result = rehearse(tree, items=300, extra_env={"CDK_VALIDATION": "false"}, prepare=prepare, after=after)
    finally:
        remove_checkout(tree)
    failed = [p.line for p in result.proofs if not p.ok]
    assert not failed, failed
    lines = [p.line for p in result.proofs]
    assert any("new GSI magic-token-index backfilled: pattern user-by-magic-token" in line for line in lines), lines
    assert any(line.startswith("dephealth-api-keys: TTL on `ttl`") for line in lines), lines
    assert any(line.startswith("dephealth-api-keys: not replaced") for line in lines), lines
    assert logins == {email: (200, email) for email in tokens}, logins


def test_rehearse_refuses_an_unknown_base(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "tools.local", "rehearse", "--base", "no-such-ref-xyz"],
                          cwd=local.ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: base ref 'no-such-ref-xyz' does not name a commit in this repository"
