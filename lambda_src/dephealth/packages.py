"""Package reads: one package, many packages, and listings by risk level.

``risk-level-index`` is KEYS_ONLY, so a listing is one Query for the keys of
a page and then BatchGetItem for the full items (ceil(n/100) requests). The
page position travels as an opaque cursor: base64url of the index's last
evaluated key, checked on the way back in.
"""

from __future__ import annotations

from lambda_src.common import decoding, faults
from lambda_src.common.requests import build_request, from_item, to_attr

from . import config
from .batch import batch_get
from .errors import InvalidInput, NotFound
from .schema import PACKAGE_PK, PACKAGE_SK, PACKAGES, RISK_LEVEL_INDEX

MAX_BATCH_NAMES = 1000


def package_key(ecosystem: str, name: str) -> dict:
    return {
        "pk": to_attr(PACKAGE_PK.build(ecosystem=ecosystem, name=name)),
        "sk": to_attr(PACKAGE_SK.build()),
    }


def get_package(client, ecosystem: str, name: str) -> dict:
    """One GetItem; 404 ``package_not_found`` when the package is unknown."""
    _, kwargs = build_request(
        PACKAGES, PACKAGES.pattern("package"), {"ecosystem": ecosystem, "name": name},
        table_name=config.packages_table(),
    )
    item = client.get_item(**kwargs).get("Item")
    if not item:
        raise NotFound("package_not_found", f"no health record for {ecosystem}/{name}")
    return from_item(item)


def batch_get_packages(client, names: list[tuple[str, str]], **options) -> dict[tuple[str, str], dict]:
    """``(ecosystem, name)`` -> record for every known package; unknown ones are absent.

    Raises ``BatchIncomplete`` rather than return a partial answer.
    """
    keys = [package_key(e, n) for e, n in names]
    items = batch_get(client, config.packages_table(), keys, **options)
    out = {}
    for raw in items:
        record = from_item(raw)
        parts = PACKAGE_PK.parse(record["pk"])
        out[(parts["ecosystem"], parts["name"])] = record
    return out


def encode_cursor(last_key: dict) -> str:
    return decoding.b64url_encode_json({k: v["S"] for k, v in last_key.items()})


def decode_cursor(cursor: str, risk_level: str) -> dict:
    """The index key a cursor holds; 400 ``invalid_cursor`` for anything else.

    Decoding goes through :mod:`lambda_src.common.decoding` (size and depth
    capped, lone surrogates refused), then the shape is checked exactly.
    """
    bad = InvalidInput("invalid_cursor", "the cursor is malformed or belongs to another listing")
    try:
        plain = decoding.b64url_json(cursor, code="invalid_cursor")
    except decoding.DecodeError:
        raise bad from None
    wanted = {"pk", "sk", *RISK_LEVEL_INDEX.key_names}
    if not isinstance(plain, dict) or set(plain) != wanted or not all(isinstance(v, str) for v in plain.values()):
        raise bad
    if plain[RISK_LEVEL_INDEX.partition.name] != risk_level:
        raise bad
    return {k: to_attr(v) for k, v in plain.items()}


def list_by_risk(client, risk_level: str, *, limit: int = 50, cursor: str | None = None,
                 deadline_s: float | None = None) -> dict:
    """One page of packages at ``risk_level``, most recently updated first.

    The BatchGetItem retries stop at ``deadline_s`` (default: what is left of
    the invocation's deadline), raising ``BatchIncomplete``.
    """
    start = decode_cursor(cursor, risk_level) if cursor else None
    _, query = build_request(
        PACKAGES, PACKAGES.pattern("packages-by-risk-level"), {"risk_level": risk_level},
        table_name=config.packages_table(), limit=limit, start_key=start,
    )
    page = client.query(**query)
    keys = [{"pk": i["pk"], "sk": i["sk"]} for i in page.get("Items", [])]
    by_pk = {}
    if keys:
        by_pk = {item["pk"]["S"]: from_item(item) for item in batch_get(
            client, config.packages_table(), keys,
            deadline_s=faults.remaining_s(20.0) if deadline_s is None else deadline_s)}
    # Index order is kept; an item deleted between the two reads is skipped.
    items = [by_pk[k["pk"]["S"]] for k in keys if k["pk"]["S"] in by_pk]
    last = page.get("LastEvaluatedKey")
    return {"items": items, "next_cursor": encode_cursor(last) if last else None}
