"""Read DynamoDB tables out of synthesized CloudFormation templates.

Tests create their moto tables from these properties, and the local-deploy
fidelity report compares them with what an endpoint reports, so neither keeps
its own copy of a table definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TABLE_TYPE = "AWS::DynamoDB::Table"


def table_resources(template: Mapping[str, Any]) -> dict[str, dict]:
    """Logical id -> resource, for every table in a template."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == TABLE_TYPE
    }


def table_properties(templates: Iterable[Mapping[str, Any]]) -> list[dict]:
    return [
        resource["Properties"]
        for template in templates
        for resource in table_resources(template).values()
    ]


def create_table_kwargs(props: Mapping[str, Any]) -> dict:
    """CloudFormation table properties -> ``CreateTable`` parameters."""
    name = props.get("TableName")
    if not isinstance(name, str):
        raise ValueError(f"table without a literal TableName: {name!r}")
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    provisioned = kwargs["BillingMode"] == "PROVISIONED"
    if provisioned:
        kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    gsis = []
    for gsi in props.get("GlobalSecondaryIndexes", []):
        entry = {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection")}
        if provisioned:
            entry["ProvisionedThroughput"] = gsi["ProvisionedThroughput"]
        gsis.append(entry)
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = gsis
    stream = props.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    sse = props.get("SSESpecification")
    if sse and sse.get("SSEEnabled"):
        kwargs["SSESpecification"] = {"Enabled": True, "SSEType": sse.get("SSEType", "KMS")}
    if "DeletionProtectionEnabled" in props:
        kwargs["DeletionProtectionEnabled"] = bool(props["DeletionProtectionEnabled"])
    return kwargs


def create_tables(client, templates: Iterable[Mapping[str, Any]]) -> list[str]:
    """Create every table of the templates through ``client``; return their names.

    TTL is applied with UpdateTimeToLive, as CreateTable has no TTL parameter.
    """
    names = []
    for props in table_properties(templates):
        kwargs = create_table_kwargs(props)
        client.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=kwargs["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        names.append(kwargs["TableName"])
    return names
