"""tools.local: argument errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from tools.local import cli as local
from tools.local.endpoint import free_port
from tools.local.env import LocalError
from tools.local.fidelity import DIFFERS, MATCH, UNREPORTED, compare
from tools.local.invoke import find_function


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
    assert find_function(FUNCTIONS, "Short-name") is FUNCTIONS[2]
    assert find_function(FUNCTIONS, "apihandler") is FUNCTIONS[0]
    logical = {"Short-name": "MonthlyResetFunction1234"}
    assert find_function(FUNCTIONS, "MonthlyReset", logical) is FUNCTIONS[2]


def test_find_function_unknown_lists_available():
    with pytest.raises(LocalError, match="available: .*Short-name"):
        find_function(FUNCTIONS, "nothing")


def test_find_function_ambiguous():
    with pytest.raises(LocalError, match="ambiguous"):
        find_function(FUNCTIONS, "Function")


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


def test_deploy_on_a_port_held_by_another_process_is_one_line(capsys, tmp_path):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        code, _, err = run(capsys, "deploy", "--port", str(port))
    assert code == 1 and "already in use" in err and err.count("\n") == 1


def test_ministack_that_cannot_start_leaves_nothing_running(tmp_path, monkeypatch):
    from tools.local import endpoint

    fake = tmp_path / "ministack"
    fake.write_text("#!/bin/sh\necho 'OSError: cannot bind' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(endpoint, "MINISTACK", fake)
    with pytest.raises(LocalError) as err:
        endpoint.start(free_port(), state_dir=tmp_path)
    assert "did not start" in str(err.value) and "cannot bind" in str(err.value)
    assert endpoint.recorded(tmp_path) is None
    assert not list(tmp_path.glob("endpoint-*.json"))


@pytest.mark.parametrize("command", ["mail", "urls", "ui", "diff"])
def test_commands_that_need_the_endpoint_say_so(capsys, command):
    code, _, err = run(capsys, command, "--port", str(free_port()))
    assert code == 1 and "run `make deploy` first" in err and "Traceback" not in err


def test_shell_names_of_resources():
    from tools.local.deploy import Resource, shell_name

    assert shell_name(Resource("KvStorage-dev-Api", "ApiC8550315", "api", "abc")) == "KV_URL"
    assert shell_name(Resource("DepHealth-dev-Service", "Api", "api", "abc")) == "DEPHEALTH_URL"
    assert shell_name(Resource("x", "IngestQueue2280FF4E", "queue", "u")) == "INGEST_QUEUE_URL"
    dead_letters = Resource("x", "CollectorDeadLetterQueueCA766960", "queue", "u")
    assert shell_name(dead_letters) == "COLLECTOR_DEAD_LETTER_QUEUE_URL"
