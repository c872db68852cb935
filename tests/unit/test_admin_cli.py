"""The admin CLI, every command run in-process against moto tables from the template.

``--target aws`` uses the standard credential chain with no endpoint override,
which ``mock_aws`` (the ``aws`` fixture) intercepts.
"""

from __future__ import annotations

import io
import json

import pytest

from lambda_src.common.requests import to_item
from lambda_src.mfh import schema as mfh
from tools.admin import main
from tools.catalog import ALL_TABLES

AWS = ["--target", "aws", "--region", "us-east-1"]


@pytest.fixture
def loaded(aws):
    for spec in ALL_TABLES:
        for item in spec.examples:
            aws.put_item(TableName=spec.table_name("dev"), Item=to_item(item))
    return aws


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*AWS, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, "--json", *argv)
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def assert_usage_error(capsys, *argv: str, code: int = 2, contains: str = "") -> str:
    got, out, err = run(capsys, *argv)
    assert got == code, (got, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    assert contains.lower() in lines[0].lower(), lines[0]
    return lines[0]


# -- every MyFusion access pattern of SPEC §1.2 is one query away -------------------
U1, U2, ACC = mfh._U1, mfh._U2, mfh._ACC

MFH_QUERIES = [
    # (spec pattern, argv, expected primary keys in order or as a set)
    ("user by id", ["mfh:user-by-id", f"user_id={U1}"], [{"user_id": U1}], True),
    ("user by email", ["user-by-email", "email=maria@example.com"], [{"user_id": U1}], True),
    ("user by Cognito sub", ["user-by-cognito-sub", "cognito_user_id=7ab31c08-2222-4f4b-8e8e-1a2b3c4d5e6f"],
     [{"user_id": U2}], True),
    ("a user's accounts", ["user-accounts", f"user_id={U2}"], [{"user_id": U2, "account_id": ACC}], True),
    ("an account's members", ["account-members", f"account_id={ACC}"],
     [{"user_id": U1, "account_id": ACC}, {"user_id": U2, "account_id": ACC}], False),
    ("an account's helpers", ["account-helpers", f"account_id={ACC}"], [{"helper_id": "hlp_tagger"}], True),
    ("an account's connections", ["account-connections", f"account_id={ACC}"],
     [{"connection_id": "conn_keap_1"}], True),
    ("an account's recent executions", ["account-recent-executions", f"account_id={ACC}"],
     [{"execution_id": "exe_0003"}, {"execution_id": "exe_0002"}, {"execution_id": "exe_0001"}], True),
    ("a helper's executions", ["helper-executions", "helper_id=hlp_tagger"],
     [{"execution_id": "exe_0003"}, {"execution_id": "exe_0001"}], True),
    ("platform by slug", ["platform-by-slug", "slug=keap"], [{"platform_id": "plat_keap"}], True),
    ("auth by connection", ["auth-by-connection", "connection_id=conn_keap_1"], [{"auth_id": "auth_keap_1"}], True),
    ("API key by hash", ["mfh.api-keys:api-key-by-hash",
                         "key_hash=5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"],
     [{"key_id": "key_01"}], True),
]


def test_every_mfh_pattern_is_one_query(capsys, loaded):
    # One test for all twelve patterns: the tables are created and loaded once.
    for what, argv, expected, ordered in MFH_QUERIES:
        result = run_json(capsys, "query", *argv)
        assert result["requests"] == 1, what
        assert result["table"].startswith("mfh-dev-"), what
        keys = [{k: item[k] for k in expected[0]} for item in result["items"]]
        if ordered:
            assert keys == expected, what
        else:
            assert sorted(map(repr, keys)) == sorted(map(repr, expected)), what


def test_every_mfh_pattern_in_the_spec_is_covered():
    covered = {argv[0].split(":")[-1] for _, argv, _, _ in MFH_QUERIES}
    declared = {p.name for spec in mfh.TABLES for p in spec.access_patterns}
    assert covered <= declared
    assert len(MFH_QUERIES) == 12  # the twelve access patterns listed in SPEC §1.2


def test_query_human_output_and_footer(capsys, loaded):
    code, out, err = run(capsys, "query", "account-recent-executions", f"account_id={ACC}")
    assert code == 0, err
    assert out.index("exe_0003") < out.index("exe_0002") < out.index("exe_0001")
    assert "1 request(s)" in out and "3 item(s)" in out


def test_query_oldest_limit_and_pagination(capsys, loaded):
    first = run_json(capsys, "query", "account-recent-executions", f"account_id={ACC}", "--oldest", "--limit", "2")
    assert [i["execution_id"] for i in first["items"]] == ["exe_0001", "exe_0002"]
    assert first["requests"] == 1 and first["next_key"]
    rest = run_json(capsys, "query", "account-recent-executions", f"account_id={ACC}", "--oldest",
                    "--start-key", json.dumps(first["next_key"]))
    assert [i["execution_id"] for i in rest["items"]] == ["exe_0003"]
    every = run_json(capsys, "query", "account-recent-executions", f"account_id={ACC}", "--all", "--page-size", "1")
    assert [i["execution_id"] for i in every["items"]] == ["exe_0003", "exe_0002", "exe_0001"]
    assert every["requests"] >= 3 and every["next_key"] is None
    capped = run_json(capsys, "query", "account-recent-executions", f"account_id={ACC}", "--all", "--limit", "2",
                      "--page-size", "1")
    assert [i["execution_id"] for i in capped["items"]] == ["exe_0003", "exe_0002"]
    assert capped["requests"] == 2


def test_query_other_products_and_number_coercion(capsys, loaded):
    low = run_json(capsys, "query", "low-health", "entity_type=student", "health_score=80")
    assert [i["entity_id"] for i in low["items"]] == ["stu_2203", "stu_4532"]  # 41, then 72
    kv = run_json(capsys, "query", "kv:user-by-id", "userId=u_ada")
    assert kv["items"][0]["email"] == "ada@example.com"
    keys = run_json(capsys, "query", "keys-by-prefix", "ns=config", "prefix=feature/", "--table", "kv.data")
    assert [i["key"] for i in keys["items"]] == ["feature/beta-search", "feature/dark-mode"]


def test_query_bad_input(capsys, loaded):
    assert_usage_error(capsys, "query", "no-such-pattern", "x=1", contains="unknown pattern 'no-such-pattern'")
    assert_usage_error(capsys, "query", "user-by-id", "user_id=x", contains="ambiguous")
    assert_usage_error(capsys, "query", "user-by-email", contains="missing key part(s): email")
    assert_usage_error(capsys, "query", "user-by-email", "email=", contains="missing key part(s): email")
    assert_usage_error(capsys, "query", "user-by-email", "mail=x", contains="unknown parameter(s) mail")
    assert_usage_error(capsys, "query", "low-health", "entity_type=student", "health_score=abc",
                       contains="health_score must be a number")
    assert_usage_error(capsys, "query", "user-by-email", "email", contains="expected name=value")
    assert_usage_error(capsys, "query", "mfh.nope:user-by-email", "email=x", contains="unknown table 'mfh.nope'")
    assert_usage_error(capsys, "query", "user-by-email", "email=x", "--limit", "0", contains="positive integer")
    assert_usage_error(capsys, "query", "user-by-email", "email=x", "--start-key", "{bad",
                       contains="--start-key is not valid JSON")


def test_patterns_lists_params(capsys):
    infos = run_json(capsys, "patterns", "mfh")
    by_name = {i["qualified"]: i for i in infos}
    assert by_name["mfh.executions:account-recent-executions"]["params"] == ["account_id"]
    assert by_name["mfh.executions:account-recent-executions"]["newest_first"] is True
    assert by_name["mfh.users:user-by-id"]["operation"] == "GetItem"
    assert all(i["table"].startswith("mfh.") for i in infos)
    assert len(run_json(capsys, "patterns")) == sum(len(s.access_patterns) for s in ALL_TABLES)
    code, out, _ = run(capsys, "patterns", "mfh-dev-executions")
    assert code == 0 and "helper-executions" in out
    assert_usage_error(capsys, "patterns", "nope", contains="unknown table 'nope'")


def test_tables(capsys, loaded):
    rows = run_json(capsys, "tables", "--check")
    assert {r["alias"] for r in rows} == {s.alias for s in ALL_TABLES}
    assert all(r["deployed"] for r in rows)
    users = next(r for r in rows if r["alias"] == "mfh.users")
    assert users["table"] == "mfh-dev-users"
    assert [i["name"] for i in users["indexes"]] == ["EmailIndex", "CognitoUserIdIndex"]
    prod = run_json(capsys, "--stage", "prod", "tables")
    assert "mfh-prod-users" in {r["table"] for r in prod}
    code, out, _ = run(capsys, "tables")
    assert code == 0 and "mfh-dev-executions" in out


def test_describe(capsys, loaded):
    result = run_json(capsys, "describe", "mfh-dev-users")
    settings = {s["setting"]: s for s in result["settings"]}
    assert settings["stream"]["declared"] == "NEW_AND_OLD_IMAGES"
    assert settings["stream"]["reported"] == "NEW_AND_OLD_IMAGES"
    assert settings["stream"]["match"] is True
    assert settings["deletion protection"] == {"setting": "deletion protection", "declared": "ENABLED",
                                               "reported": "ENABLED", "match": True}
    assert settings["point-in-time recovery"]["declared"] == "ENABLED"
    assert settings["point-in-time recovery"]["reported"] in ("ENABLED", "DISABLED")
    assert settings["item count"]["reported"] == 2 and settings["item count"]["match"] is None
    executions = {s["setting"]: s for s in run_json(capsys, "describe", "mfh.executions")["settings"]}
    assert executions["ttl"]["declared"] == "ENABLED on ttl"
    assert executions["ttl"]["reported"] == "ENABLED on ttl"
    assert {i["name"]: i["status"] for i in result["indexes"]} == {"EmailIndex": "ACTIVE",
                                                                  "CognitoUserIdIndex": "ACTIVE"}
    code, out, err = run(capsys, "describe", "mfh.executions")
    assert code == 0, err
    assert "AccountIdCreatedAtIndex" in out and "ttl" in out
    assert_usage_error(capsys, "describe", "mfh.nope", contains="unknown table 'mfh.nope'")


def test_get(capsys, loaded):
    item = run_json(capsys, "get", "mfh.users", f"user_id={U1}")
    assert item["email"] == "maria@example.com"
    item = run_json(capsys, "get", "iops.metrics", "entity_id=stu_4532", "entity_type=student")
    assert item["health_score"] == 72  # the source design's example item
    code, out, _ = run(capsys, "get", "mfh-dev-platforms", "platform_id=plat_keap")
    assert code == 0 and "oauth2" in out
    got = assert_usage_error(capsys, "get", "mfh.users", "user_id=user:nobody", code=1, contains="no item")
    assert "user:nobody" in got
    assert_usage_error(capsys, "get", "kv.data", "PK=USER#u_ada", contains="missing key part(s) SK")
    assert_usage_error(capsys, "get", "mfh.users", "email=x", contains="not a key attribute")
    assert_usage_error(capsys, "get", "nope", "a=b", contains="unknown table 'nope'")


def test_put_validates_and_writes(capsys, loaded, tmp_path):
    item = {"platform_id": "plat_hubspot", "slug": "hubspot", "name": "HubSpot", "weight": 1.5}
    result = run_json(capsys, "put", "mfh.platforms", json.dumps(item))
    assert result == {"table": "mfh-dev-platforms", "key": {"platform_id": "plat_hubspot"}, "replaced": False}
    found = run_json(capsys, "query", "platform-by-slug", "slug=hubspot")
    assert found["items"] == [item]
    again = run_json(capsys, "put", "mfh.platforms", json.dumps(item))
    assert again["replaced"] is True
    assert_usage_error(capsys, "put", "mfh.platforms", json.dumps(item), "--no-overwrite", code=1,
                       contains="already exists")
    path = tmp_path / "item.json"
    path.write_text(json.dumps({"platform_id": "plat_x", "slug": "x"}))
    assert run_json(capsys, "put", "mfh.platforms", f"@{path}")["key"] == {"platform_id": "plat_x"}

    assert_usage_error(capsys, "put", "mfh.platforms", '{"slug": "x"}', contains="missing key attribute(s) platform_id")
    assert_usage_error(capsys, "put", "mfh.platforms", '{"platform_id": 5}', contains="must be a string")
    assert_usage_error(capsys, "put", "mfh.platforms", '{"platform_id": "p", "slug": 7}',
                       contains="slug must be a string")
    assert_usage_error(capsys, "put", "iops.metrics",
                       '{"entity_id": "e", "entity_type": "student", "health_score": "abc"}',
                       contains="health_score must be a number")
    assert_usage_error(capsys, "put", "mfh.oauth-states", '{"state_id": "s", "expires_at": "tomorrow"}',
                       contains="epoch seconds")
    assert_usage_error(capsys, "put", "mfh.platforms", "{not json", contains="not valid JSON")
    assert_usage_error(capsys, "put", "mfh.platforms", "[1, 2]", contains="JSON object")
    assert_usage_error(capsys, "put", "mfh.platforms", "@/nonexistent/file.json", contains="cannot read")


def test_put_from_stdin(capsys, loaded, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"platform_id": "plat_stdin", "slug": "stdin"}'))
    assert run_json(capsys, "put", "mfh.platforms", "-")["key"] == {"platform_id": "plat_stdin"}


def test_update(capsys, loaded):
    item = run_json(capsys, "update", "mfh.helpers", "helper_id=hlp_tagger", "--set", "enabled:=false",
                    "--set", "note=paused by ops", "--set", "retries:=3", "--remove", "connection_id")
    assert item["enabled"] is False and item["note"] == "paused by ops" and item["retries"] == 3
    assert "connection_id" not in item
    item = run_json(capsys, "update", "iops.metrics", "entity_id=stu_4532", "entity_type=student",
                    "--set", "health_score=55")
    assert item["health_score"] == 55
    low = run_json(capsys, "query", "low-health", "entity_type=student", "health_score=60")
    assert [i["entity_id"] for i in low["items"]] == ["stu_2203", "stu_4532"]

    assert_usage_error(capsys, "update", "mfh.helpers", "helper_id=missing", "--set", "a=b", code=1,
                       contains="no item with key helper_id=missing")
    assert_usage_error(capsys, "update", "mfh.helpers", "helper_id=hlp_tagger", contains="nothing to update")
    assert_usage_error(capsys, "update", "mfh.helpers", "helper_id=hlp_tagger", "--set", "helper_id=x",
                       contains="part of the primary key")
    assert_usage_error(capsys, "update", "mfh.helpers", "helper_id=hlp_tagger", "--set", "a=1", "--remove", "a",
                       contains="more than once")
    assert_usage_error(capsys, "update", "mfh.helpers", "helper_id=hlp_tagger", "--set", "bad",
                       contains="NAME=TEXT")
    assert_usage_error(capsys, "update", "mfh.helpers", "helper_id=hlp_tagger", "--set", "a:={x",
                       contains="not valid JSON")
    assert_usage_error(capsys, "update", "iops.metrics", "entity_id=stu_4532", "entity_type=student",
                       "--set", "health_score=abc", contains="health_score must be a number")
    assert_usage_error(capsys, "update", "mfh.helpers", "--set", "a=b", contains="missing key part(s) helper_id")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_delete(capsys, loaded, monkeypatch):
    # Without a terminal and without --yes: refused, nothing deleted.
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert_usage_error(capsys, "delete", "mfh.oauth-states", "state_id=st_9f2c", contains="--yes")
    assert run_json(capsys, "get", "mfh.oauth-states", "state_id=st_9f2c")["state_id"] == "st_9f2c"

    # On a terminal, answering no keeps the item and shows it first.
    monkeypatch.setattr("sys.stdin", _Tty("n\n"))
    code, out, err = run(capsys, "delete", "mfh.oauth-states", "state_id=st_9f2c")
    assert code == 1 and "redirect_uri" in out and "[y/N]" in err and "not confirmed" in err
    assert run_json(capsys, "get", "mfh.oauth-states", "state_id=st_9f2c")

    # Answering yes deletes it.
    monkeypatch.setattr("sys.stdin", _Tty("y\n"))
    code, out, err = run(capsys, "delete", "mfh.oauth-states", "state_id=st_9f2c")
    assert code == 0 and "deleted state_id=st_9f2c" in out
    assert_usage_error(capsys, "get", "mfh.oauth-states", "state_id=st_9f2c", code=1, contains="no item")

    # --yes needs no terminal.
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    result = run_json(capsys, "delete", "mfh.platforms", "platform_id=plat_stripe", "--yes")
    assert result["deleted"]["slug"] == "stripe"
    assert_usage_error(capsys, "delete", "mfh.platforms", "platform_id=plat_stripe", "--yes", code=1,
                       contains="no item")


def test_scan_is_bounded(capsys, loaded):
    result = run_json(capsys, "scan", "mfh.executions", "--limit", "2")
    assert result["count"] == 2 and result["next_key"]
    rest = run_json(capsys, "scan", "mfh.executions", "--start-key", json.dumps(result["next_key"]))
    assert result["count"] + rest["count"] == 3
    default = run_json(capsys, "scan", "kv.data")
    assert default["count"] == len(ALL_TABLES[[s.alias for s in ALL_TABLES].index("kv.data")].examples)
    by_index = run_json(capsys, "scan", "mfh.users", "--index", "EmailIndex", "--limit", "5")
    assert by_index["count"] == 2
    code, out, _ = run(capsys, "scan", "mfh.platforms")
    assert code == 0 and "plat_keap" in out
    assert_usage_error(capsys, "scan", "mfh.users", "--limit", "100000", contains="between 1 and")
    assert_usage_error(capsys, "scan", "mfh.users", "--limit", "x", contains="invalid int")
    assert_usage_error(capsys, "scan", "mfh.users", "--index", "NopeIndex", contains="no index 'NopeIndex'")


def test_count(capsys, loaded):
    approx = run_json(capsys, "count", "mfh.executions")
    assert approx["exact"] is False and approx["requests"] == 1 and isinstance(approx["count"], int)
    exact = run_json(capsys, "count", "mfh.executions", "--exact")
    assert exact == {**exact, "count": 3, "exact": True}
    code, out, _ = run(capsys, "count", "mfh.users", "--exact")
    assert code == 0 and "2 items (exact" in out


def test_missing_table_at_endpoint(capsys, aws):
    aws.delete_table(TableName="mfh-dev-oauth-states")
    assert_usage_error(capsys, "get", "mfh.oauth-states", "state_id=x", code=1, contains="not found")


def test_unreachable_endpoint(capsys):
    got = main(["--target", "local", "--endpoint-url", "http://127.0.0.1:9", "count", "mfh.users"])
    _, err = capsys.readouterr()
    assert got == 1
    assert err.count("\n") == 1 and err.startswith("error: cannot reach the DynamoDB endpoint http://127.0.0.1:9")


def test_local_target_endpoint(monkeypatch):
    from tools.admin.connect import connect

    monkeypatch.setenv("LOCAL_PORT", "4999")
    conn = connect("local", None, None)
    assert conn.client.meta.endpoint_url == "http://localhost:4999"
    assert conn.client._request_signer._credentials.access_key == "test"
    assert connect("local", "http://127.0.0.1:1234", "eu-west-1").client.meta.region_name == "eu-west-1"


def test_usage_errors_are_one_line(capsys):
    assert_usage_error(capsys, "frobnicate", contains="invalid choice")
    assert_usage_error(capsys, "--stage", "qa", "tables", contains="invalid choice")
    assert_usage_error(capsys, "get", "mfh-prod-users", "user_id=x", contains="pass --stage prod")
    assert_usage_error(capsys, "get", "mfh.user", "user_id=x", contains="did you mean 'mfh.users'")
    assert main([]) == 2


@pytest.mark.parametrize("command", ["", "tables", "describe", "patterns", "query", "get", "put", "update",
                                     "delete", "scan", "count"])
def test_help_on_every_command(capsys, command):
    argv = [command, "--help"] if command else ["--help"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "usage: dynamo-admin" in out
    assert "example" in out
    if command == "query":
        for spec in mfh.TABLES:
            for pattern in spec.access_patterns:
                assert f"{spec.alias}:{pattern.name}" in out


def test_delete_json_prompt_keeps_stdout_clean(capsys, loaded, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Tty("yes\n"))
    code, out, err = run(capsys, "--json", "delete", "mfh.platforms", "platform_id=plat_keap")
    assert code == 0, err
    assert json.loads(out)["deleted"]["slug"] == "keap"
    assert '"slug": "keap"' in err.splitlines()[0]


def test_count_exact_progress_on_a_terminal(capsys, loaded, monkeypatch):
    class TtyErr(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = TtyErr()
    monkeypatch.setattr("sys.stderr", fake)
    code = main([*AWS, "count", "mfh.executions", "--exact"])
    out = capsys.readouterr().out
    assert code == 0 and "3 items (exact" in out


def test_aws_target_without_region(capsys, monkeypatch, tmp_path):
    from tools.admin import connect

    monkeypatch.setattr(connect, "_SESSIONS", {})
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    got = main(["--target", "aws", "count", "mfh.users"])
    err = capsys.readouterr().err
    assert got == 2 and err.startswith("error: no AWS region configured")


def test_every_query_in_the_operator_guide_runs(capsys, loaded):
    import re
    import shlex
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "admin-cli.md").read_text()
    # Every example query except the error demonstrations (shell lines starting with "$ ").
    commands = re.findall(r"(?<!\$ )dynamo-admin (query [a-z][^`#\n]+)", doc)
    assert len(commands) >= 20
    for command in commands:
        result = run_json(capsys, *shlex.split(command))
        assert result["count"] >= 1, command
        assert result["requests"] == 1 or "--all" in command, command


def test_wrapper_script_runs_from_any_directory(tmp_path):
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bin" / "dynamo-admin"
    ok = subprocess.run([str(script), "patterns", "mfh.platforms", "--json"], cwd=tmp_path,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)[0]["qualified"] == "mfh.platforms:platform-by-slug"
    bad = subprocess.run([str(script), "get", "nope"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown table 'nope'")
    assert "Traceback" not in bad.stderr


def test_human_output_of_writes(capsys, loaded, monkeypatch):
    code, out, err = run(capsys, "put", "mfh.platforms", '{"platform_id": "plat_h", "slug": "h"}')
    assert code == 0 and "created" in out and "plat_h" in out, err
    code, out, err = run(capsys, "update", "mfh.platforms", "platform_id=plat_h", "--set", "name=[bold]H[/bold]")
    assert code == 0 and "[bold]H[/bold]" in out, err  # values are printed literally, never as markup
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = run(capsys, "delete", "mfh.platforms", "platform_id=plat_h", "--yes")
    assert code == 0 and "deleted from mfh-dev-platforms" in out and "plat_h" in out, err


# -- CDK context: tableName / gsiName, read as the app reads them -------------------
KV_CONTEXT = (("tableName", "kv-custom-data"), ("gsiName", "ByParent"))


@pytest.fixture
def custom_kv(aws):
    """The KV table as the app synthesizes it under -c tableName=... -c gsiName=..."""
    from lambda_src.kv import schema as kv
    from tests.synth import synth
    from tools.cfn_tables import create_tables

    create_tables(aws, [synth("dev", KV_CONTEXT)["KvStorageData"]])
    for item in kv.TABLE.examples:
        aws.put_item(TableName="kv-custom-data", Item=to_item(item))
    return aws


def test_context_overrides_name_the_kv_table_and_index(custom_kv, capsys):
    flags = [arg for key, value in KV_CONTEXT for arg in ("-c", f"{key}={value}")]
    keys = run_json(capsys, *flags, "query", "kv.data:keys-by-prefix", "ns=config", "prefix=feature/")
    assert keys["table"] == "kv-custom-data" and keys["index"] == "ByParent"
    assert [i["key"] for i in keys["items"]] == ["feature/beta-search", "feature/dark-mode"]
    user = run_json(capsys, *flags, "get", "kv-custom-data", "PK=USER#u_ada", "SK=METADATA")
    assert user["email"] == "ada@example.com"
    tables = {t["alias"]: t for t in run_json(capsys, *flags, "tables")}
    assert tables["kv.data"]["table"] == "kv-custom-data"
    assert [i["name"] for i in tables["kv.data"]["indexes"]] == ["ByParent"]
    # without the overrides the CLI names the default table, which holds nothing here
    empty = run_json(capsys, "query", "kv.data:keys-by-prefix", "ns=config", "prefix=feature/")
    assert empty["table"] == "kv-storage-data" and empty["items"] == []


def test_context_comes_from_cdk_json_then_overrides(tmp_path, monkeypatch, capsys):
    from tools.admin import context

    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"app": "x", "context": {"tableName": "kv-from-cdk-json", "gsiName": "G"}}))
    monkeypatch.setattr(context, "CDK_JSON", cdk_json)
    tables = {t["alias"]: t for t in run_json(capsys, "tables")}
    assert tables["kv.data"]["table"] == "kv-from-cdk-json"
    assert [i["name"] for i in tables["kv.data"]["indexes"]] == ["G"]
    tables = {t["alias"]: t for t in run_json(capsys, "-c", "tableName=kv-cli", "tables")}
    assert tables["kv.data"]["table"] == "kv-cli"
    assert_usage_error(capsys, "-c", "tableName", "tables", contains="-c expects key=value")


def test_cli_uses_only_the_public_surface_of_core_and_core_parses_no_text():
    import ast
    from pathlib import Path

    from tools.admin import cli, core

    tree = ast.parse(Path(cli.__file__).read_text())
    private = sorted({node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                      and isinstance(node.value, ast.Name) and node.value.id == "core"
                      and node.attr.startswith("_")})
    assert private == []
    assert not [name for name in vars(core) if name.startswith("parse_") or name == "set_value"]
    assert "argparse" not in Path(core.__file__).read_text()
