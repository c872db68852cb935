"""``make load [LOAD_SECONDS=60] [LOAD_USERS=20]``: a bounded load test of the running system.

1. Finds the deployed KV and DepHealth APIs on the running local endpoint,
   creates the floor route (the same gateway in front of a function that
   returns a constant) and DepHealth API keys (signup and verification mail
   through SES, as a user gets them).
2. Runs Locust headless (``.venv-load``, ``tools/load/locustfile.py``) for
   the given time with the given users, on the mix the locustfile declares.
3. Reports per route: requests, failures, p50/p95/p99 next to the floor.
4. Checks the counters afterwards: each KV user's ``requestCount`` equals its
   successful requests and its ``storageBytes`` the sum of its stored sizes;
   each DepHealth key's ``requests_this_month`` equals its counted requests.

Pass marks: no answer >= 500 and no counter drift; otherwise exit 1.
``--write`` puts the report into docs/PERFORMANCE.md between its load markers.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from lambda_src.common.hashing import sha256_hex
from lambda_src.common.requests import build_request
from lambda_src.common.schema_types import STAGES
from lambda_src.dephealth.schema import API_KEYS
from tools.bench.local_target import dephealth_key, floor_api
from tools.local import endpoint
from tools.local import env as local
from tools.local.deploy import deployed_stacks, running_resources
from tools.local.env import ROOT, LocalError

LOCUST = ROOT / ".venv-load" / "bin" / "locust"
DOC = ROOT / "docs" / "PERFORMANCE.md"
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"


def _json(url: str, headers: dict) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        return json.load(response)


def run_locust(config: dict, users: int, seconds: int, workdir: Path) -> tuple[list[dict], dict]:
    if not LOCUST.exists():
        raise LocalError("Locust is not installed: run `make load` (it installs .venv-load)")
    (workdir / "config.json").write_text(json.dumps(config))
    env = {"LOAD_CONFIG": str(workdir / "config.json"), "LOAD_LEDGER": str(workdir / "ledger.json"),
           "PATH": "/usr/bin:/bin"}
    cmd = [str(LOCUST), "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
           "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--csv", str(workdir / "stats"),
           "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"]
    proc = subprocess.run(cmd, env=env, cwd=workdir, capture_output=True, text=True, timeout=seconds + 120)
    stats_file = workdir / "stats_stats.csv"
    if not stats_file.exists():
        raise LocalError(f"locust produced no statistics (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    rows = list(csv.DictReader(stats_file.open()))
    failures_file = workdir / "stats_failures.csv"
    failures = list(csv.DictReader(failures_file.open())) if failures_file.exists() else []
    ledger = json.loads((workdir / "ledger.json").read_text())
    ledger["failures"] = [f"{f['Method']} {f['Name']}: {f['Error']} x{f['Occurrences']}" for f in failures]
    return rows, ledger


def check_counters(port: int, kv_url: str, ledger: dict, api_keys_table: str) -> list[str]:
    """One line per drift; empty when every counter is exact."""
    drift = []
    for api_key, entry in ledger["kv"].items():
        headers = {"x-api-key": api_key}
        me = _json(f"{kv_url}/me", headers)
        # /me counts itself: the user's successful requests plus this one.
        if me["requestCount"] != entry["ok"] + 1:
            drift.append(f"KV user {me['userId']}: requestCount {me['requestCount']}, made {entry['ok'] + 1}")
        stored = 0
        for ns in _pages(f"{kv_url}/namespaces", headers, "namespaces"):
            for key in _pages(f"{kv_url}/namespaces/{ns['namespace']}/keys", headers, "keys"):
                stored += int(key["size"])
        if me["storageBytes"] != stored:
            drift.append(f"KV user {me['userId']}: storageBytes {me['storageBytes']}, stored {stored}")
    ddb = local.client("dynamodb", port)
    for raw_key, entry in ledger["dephealth"].items():
        _, query = build_request(API_KEYS, API_KEYS.pattern("api-key-by-hash"), {"key_hash": sha256_hex(raw_key)},
                                 table_name=api_keys_table)
        items = ddb.query(**query)["Items"]
        counted = int(items[0].get("requests_this_month", {"N": "0"})["N"]) if items else -1
        if counted != entry["ok"]:
            drift.append(f"DepHealth key {raw_key[:6]}...: requests_this_month {counted}, made {entry['ok']}")
    return drift


def _pages(url: str, headers: dict, field: str):
    cursor = None
    while True:
        page = _json(url + ("?limit=100" + (f"&cursor={cursor}" if cursor else "")), headers)
        yield from page[field]
        cursor = page.get("cursor")
        if not cursor:
            return


def report(rows: list[dict], users: int, seconds: int, drift: list[str],
           failures: Sequence[str] = ()) -> list[str]:
    floor = next((r for r in rows if r["Name"].startswith("GET floor")), None)
    floor_p50 = float(floor["50%"]) if floor else None
    lines = [BEGIN, "## Load test of the running system (`make load`)", "",
             f"`make load LOAD_USERS={users} LOAD_SECONDS={seconds}`: Locust, headless, against the deployed "
             "KV and DepHealth APIs on MiniStack (KV users 3 : DepHealth users 2 : floor users 1).", "",
             "| route | requests | failures | p50 ms | p95 ms | p99 ms | p50 vs floor |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        if row["Name"] == "Aggregated":
            continue
        ratio = f"{float(row['50%']) / floor_p50:.2f}x" if floor_p50 else ""
        lines.append(f"| {row['Type']} {row['Name'].replace('|', '/')} | {row['Request Count']} | "
                     f"{row['Failure Count']} | {row['50%']} | {row['95%']} | {row['99%']} | {ratio} |")
    total = next((r for r in rows if r["Name"] == "Aggregated"), None)
    failed = int(total["Failure Count"]) if total else 0
    lines += ["", f"Responses >= 500: {failed}. Counter drift: {len(drift)}"
              + (" (" + "; ".join(drift[:5]) + ")" if drift else "") + "."]
    lines += [f"- {line}" for line in failures]
    lines += [END]
    return lines


def write_doc(lines: list[str]) -> None:
    text = DOC.read_text() if DOC.exists() else ""
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.load", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--write", action="store_true", help="put the report into docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 200 or not 1 <= args.seconds <= 600:
        print("error: --users is 1-200 and --seconds 1-600", file=sys.stderr)
        return 2
    try:
        port = endpoint.require_running(args.port)
        resources = running_resources(local.client("cloudformation", port), deployed_stacks(port), port)
        urls = {r.stack: r.url for r in resources if r.kind == "api"}
        kv_url = next(u for s, u in urls.items() if s.startswith("KvStorage"))
        dh_url = next(u for s, u in urls.items() if s.startswith("DepHealth"))
        api_keys_table = _api_keys_table(port)
        keys = [dephealth_key(port, dh_url)["x-api-key"] for _ in range(max(1, min(10, args.users // 3)))]
        config = {"kv_url": kv_url, "dephealth_url": dh_url, "floor_url": floor_api(port), "dephealth_keys": keys}
        with tempfile.TemporaryDirectory(prefix="load-") as tmp:
            rows, ledger = run_locust(config, args.users, args.seconds, Path(tmp))
        drift = check_counters(port, kv_url, ledger, api_keys_table)
    except (LocalError, StopIteration, OSError, AssertionError) as exc:
        print(f"error: {exc or 'the deployed APIs were not found: run `make deploy` first'}", file=sys.stderr)
        return 1
    lines = report(rows, args.users, args.seconds, drift, ledger.get("failures", []))
    print("\n".join(lines[1:-1]))
    if args.write:
        write_doc(lines)
    total = next((r for r in rows if r["Name"] == "Aggregated"), {"Failure Count": "0"})
    return 1 if drift or int(total["Failure Count"]) else 0


def _api_keys_table(port: int) -> str:
    """DepHealth's api-keys table of whichever stage is deployed on the endpoint (dev or prod)."""
    names = set(local.client("dynamodb", port).list_tables()["TableNames"])
    found = sorted({API_KEYS.table_name(stage) for stage in STAGES} & names)
    if len(found) != 1:
        wanted = " or ".join(sorted({API_KEYS.table_name(stage) for stage in STAGES}))
        raise LocalError(f"expected one DepHealth api-keys table ({wanted}) on the endpoint, found "
                         f"{len(found)}: run `make deploy` (one stage) first")
    return found[0]


if __name__ == "__main__":
    sys.exit(main())
