"""tools.local: argument errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from tools import local
from tools.local_endpoint import LocalError, free_port
from tools.local_fidelity import DIFFERS, MATCH, UNREPORTED, compare


def run(capsys, *argv):
    code = local.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def parse_exit(capsys, *argv) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        local.main(list(argv))
    return exc.value.code, capsys.readouterr().err


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        local.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("deploy", "destroy", "diff", "invoke", "status"):
        assert command in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        ((), "required"),
        (("launch",), "invalid choice"),
        (("deploy", "--target", "gcp"), "invalid choice"),
        (("deploy", "--stage", "qa"), "invalid choice"),
        (("deploy", "--port", "abc"), "not a port number"),
        (("deploy", "--port", "70000"), "port out of range"),
        (("invoke", "--event", "e.json"), "--function"),
        (("invoke", "--function", "x"), "--event"),
    ],
)
def test_bad_arguments_exit_2_with_usage(capsys, argv, needle):
    code, err = parse_exit(capsys, *argv)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_empty_function_name(capsys):
    code, _, err = run(capsys, "invoke", "--function", " ", "--event", "e.json")
    assert code == 2 and "--function is empty" in err


def test_missing_event_file(capsys, tmp_path):
    code, _, err = run(capsys, "invoke", "--function", "x", "--event", str(tmp_path / "nope.json"))
    assert code == 1
    assert err.startswith("error: cannot read event file") and err.count("\n") == 1


def test_event_file_not_json(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "invoke", "--function", "x", "--event", str(bad))
    assert code == 1 and "is not JSON" in err


def test_invoke_without_endpoint(capsys, tmp_path):
    event = tmp_path / "e.json"
    event.write_text("{}")
    port = str(free_port())
    code, _, err = run(capsys, "invoke", "--function", "x", "--event", str(event), "--port", port)
    assert code == 1 and "run `make deploy` first" in err


def test_status_without_endpoint(capsys):
    code, out, _ = run(capsys, "status", "--port", str(free_port()))
    assert code == 1 and "no local endpoint" in out


def test_bad_context_before_anything_starts(capsys):
    code, _, err = run(capsys, "deploy", "-c", "novalue", "--port", str(free_port()))
    assert code == 1 and "KEY=VALUE" in err


FUNCTIONS = [
    {"FunctionName": "KvStorage-dev-Api-ApiHandlerFunction73BB96D1-X5XC"},
    {"FunctionName": "IOpsDashboard-dev-Core-IngestFunction83726A21-TRWE"},
    {"FunctionName": "Short-name"},
]


def test_find_function_by_name_substring_and_logical_id():
    assert local.find_function(FUNCTIONS, "Short-name") is FUNCTIONS[2]
    assert local.find_function(FUNCTIONS, "apihandler") is FUNCTIONS[0]
    logical = {"Short-name": "MonthlyResetFunction1234"}
    assert local.find_function(FUNCTIONS, "MonthlyReset", logical) is FUNCTIONS[2]


def test_find_function_unknown_lists_available():
    with pytest.raises(LocalError, match="available: .*Short-name"):
        local.find_function(FUNCTIONS, "nothing")


def test_find_function_ambiguous():
    with pytest.raises(LocalError, match="ambiguous"):
        local.find_function(FUNCTIONS, "Function")


def test_fidelity_reports_differences_and_never_claims_unreported():
    props = {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "ttl"},
        "SSESpecification": {"SSEEnabled": True},
    }
    table = {
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "DeletionProtectionEnabled": False,
    }
    report = compare(props, table, {"TimeToLiveStatus": "DISABLED"}, None, name="t")
    status = {c.prop: c.status for c in report.checks}
    assert status["key schema"] == MATCH and status["billing mode"] == MATCH
    assert status["TTL"] == DIFFERS
    assert status["SSE"] == UNREPORTED and status["PITR"] == UNREPORTED
