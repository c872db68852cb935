"""Plain-data types that declare a DynamoDB table once, for every consumer.

The CDK construct, the Lambda handlers, the test fixtures, the generated
schema document and the admin CLI all read these objects, so an index name or
a key format exists in exactly one place. This module must stay importable
inside a Lambda bundle: standard library only, no ``aws_cdk``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

AttrType = Literal["S", "N", "B"]
Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]
SortOp = Literal["=", "<", "<=", ">", ">=", "begins_with", "between"]
StreamView = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]
Encryption = Literal["AWS_OWNED", "AWS_MANAGED"]

STAGES = ("dev", "prod")


class SchemaError(ValueError):
    """A caller gave parameters that do not fit a declared key or pattern."""


@dataclass(frozen=True)
class Attr:
    """A key attribute: its name and DynamoDB scalar type."""

    name: str
    type: AttrType = "S"

    def coerce(self, value: Any) -> Any:
        """Turn a user-supplied value into the Python type boto3 expects."""
        if self.type == "N":
            if isinstance(value, bool):
                raise SchemaError(f"{self.name} must be a number, got {value!r}")
            try:
                return Decimal(str(value))
            except Exception as exc:  # decimal.InvalidOperation and friends
                raise SchemaError(f"{self.name} must be a number, got {value!r}") from exc
        if self.type == "S":
            if not isinstance(value, str):
                raise SchemaError(f"{self.name} must be a string, got {value!r}")
            return value
        return value


@dataclass(frozen=True)
class KeyFormat:
    """A key value template such as ``USER#{userId}``.

    ``build`` fills it, ``parse`` reverses it, ``prefix`` gives the constant
    part used with ``begins_with``. Handlers call these instead of writing
    f-strings, so a format changes in one place.
    """

    template: str

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(
            name for _, name, _, _ in string.Formatter().parse(self.template) if name
        )

    @property
    def prefix(self) -> str:
        """The literal text before the first placeholder."""
        return self.template.split("{", 1)[0]

    def build(self, **values: Any) -> str:
        missing = [p for p in self.params if values.get(p) in (None, "")]
        if missing:
            raise SchemaError(f"missing key part(s): {', '.join(missing)}")
        return self.template.format(**{p: values[p] for p in self.params})

    def parse(self, value: str) -> dict[str, str]:
        pattern = "^"
        for literal, name, _, _ in string.Formatter().parse(self.template):
            pattern += re.escape(literal)
            if name:
                pattern += f"(?P<{name}>.+?)"
        match = re.match(pattern + "$", value)
        if not match:
            raise SchemaError(f"{value!r} does not match {self.template!r}")
        return match.groupdict()

    def __str__(self) -> str:
        return self.template


@dataclass(frozen=True)
class Index:
    """A global secondary index and what it projects."""

    name: str
    partition: Attr
    sort: Attr | None = None
    projection: Projection = "ALL"
    non_key_attributes: tuple[str, ...] = ()
    use_case: str = ""  # what the index is for, in the docs (else its patterns say)

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.partition.name,) + ((self.sort.name,) if self.sort else ())


@dataclass(frozen=True)
class Protection:
    """Data-protection settings that vary by stage."""

    pitr: bool
    deletion_protection: bool
    retain: bool


PROD_PROTECTION = Protection(pitr=True, deletion_protection=True, retain=True)
DEV_DISPOSABLE = Protection(pitr=False, deletion_protection=False, retain=False)


@dataclass(frozen=True)
class SortCondition:
    """The sort-key half of a key condition: an operator and a value format."""

    op: SortOp
    value: KeyFormat
    upper: KeyFormat | None = None  # second bound, for ``between``


@dataclass(frozen=True)
class AccessPattern:
    """A named way to read a table: one GetItem or one Query, never a Scan.

    ``partition`` and ``sort`` are formats filled from the caller's
    parameters; ``index`` is ``None`` for the base table. ``example`` holds
    parameters that select items from the table's examples, and ``expect``
    lists, in order, the primary keys that those parameters must return.
    """

    name: str
    description: str
    partition: KeyFormat
    index: str | None = None
    sort: SortCondition | None = None
    newest_first: bool = False
    get_item: bool = False
    limit: int | None = None  # default page size, e.g. "latest 10 insights"
    example: Mapping[str, Any] = field(default_factory=dict)
    expect: tuple[Mapping[str, Any], ...] = ()

    @property
    def params(self) -> tuple[str, ...]:
        names = list(self.partition.params)
        if self.sort:
            names += [p for p in self.sort.value.params if p not in names]
            if self.sort.upper:
                names += [p for p in self.sort.upper.params if p not in names]
        return tuple(names)


# DynamoDB attribute type descriptors an item attribute may be declared with.
ItemType = Literal["S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "ANY"]  # ANY: any JSON value


def item_type(value: Any) -> str:
    """The DynamoDB type descriptor boto3 would write for a Python value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, (int, float, Decimal)):
        return "N"
    if isinstance(value, str):
        return "S"
    if isinstance(value, (bytes, bytearray)):
        return "B"
    if isinstance(value, (list, tuple)):
        return "L"
    if isinstance(value, Mapping):
        return "M"
    if isinstance(value, (set, frozenset)):
        return "NS" if value and all(isinstance(v, (int, float, Decimal)) for v in value) else "SS"
    raise SchemaError(f"no DynamoDB type for {value!r}")


@dataclass(frozen=True)
class Attribute:
    """An item attribute as the docs describe it: name, DynamoDB type, meaning.

    ``optional`` marks an attribute that only some items of the kind carry.
    """

    name: str
    type: ItemType
    description: str
    optional: bool = False


@dataclass(frozen=True)
class RecordKind:
    """One kind of item in a multi-record table, told apart by its key formats."""

    name: str
    description: str
    partition: KeyFormat
    sort: KeyFormat | None = None
    attributes: tuple[Attribute, ...] = ()

    def matches(self, spec: TableSpec, item: Mapping[str, Any]) -> bool:
        formats = ((spec.partition, self.partition), (spec.sort, self.sort))
        for attr, fmt in formats:
            if attr is None or fmt is None:
                continue
            value = item.get(attr.name)
            if not isinstance(value, str):
                return False
            try:
                fmt.parse(value)
            except SchemaError:
                return False
        return True


@dataclass(frozen=True)
class TableSpec:
    """Everything about one table that any part of the project needs."""

    alias: str  # short name for the CLI and docs, e.g. ``mfh.users``
    name_template: str  # may contain ``{stage}``
    description: str
    partition: Attr
    sort: Attr | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    stream: StreamView | None = None
    encryption: Encryption = "AWS_MANAGED"
    dev: Protection = DEV_DISPOSABLE
    prod: Protection = PROD_PROTECTION
    access_patterns: tuple[AccessPattern, ...] = ()
    examples: tuple[Mapping[str, Any], ...] = ()
    # The item attributes, for the docs: ``attributes`` for a table of one
    # kind of item, ``record_kinds`` (first match wins) for a table of several.
    attributes: tuple[Attribute, ...] = ()
    record_kinds: tuple[RecordKind, ...] = ()

    def __post_init__(self) -> None:
        index_names = {i.name for i in self.indexes}
        for pattern in self.access_patterns:
            if pattern.index and pattern.index not in index_names:
                raise SchemaError(
                    f"{self.alias}: pattern {pattern.name} uses unknown index {pattern.index}"
                )
            if pattern.get_item and (pattern.index or (self.sort and not pattern.sort)):
                raise SchemaError(f"{self.alias}: {pattern.name} cannot be a GetItem")

    # -- item attributes -------------------------------------------------------
    def record_kind(self, item: Mapping[str, Any]) -> RecordKind | None:
        """The first declared record kind whose key formats the item's keys fit."""
        for kind in self.record_kinds:
            if kind.matches(self, item):
                return kind
        return None

    def declared_attributes(self, item: Mapping[str, Any]) -> tuple[Attribute, ...]:
        """The attributes declared for the kind of ``item`` (its table's, if one kind)."""
        if self.record_kinds:
            kind = self.record_kind(item)
            if kind is None:
                raise SchemaError(f"{self.alias}: no declared record kind fits {self.key_of(item)}")
            return kind.attributes
        return self.attributes

    # -- names ---------------------------------------------------------------
    @property
    def product(self) -> str:
        return self.alias.split(".", 1)[0]

    def table_name(self, stage: str) -> str:
        return self.name_template.format(stage=stage)

    def protection(self, stage: str) -> Protection:
        return self.prod if stage == "prod" else self.dev

    def index(self, name: str) -> Index:
        for index in self.indexes:
            if index.name == name:
                return index
        raise SchemaError(f"{self.alias} has no index {name!r}")

    def pattern(self, name: str) -> AccessPattern:
        for pattern in self.access_patterns:
            if pattern.name == name:
                return pattern
        raise SchemaError(f"{self.alias} has no access pattern {name!r}")

    def with_index_renamed(self, old: str, new: str) -> TableSpec:
        """A copy whose index ``old`` is deployed as ``new`` (KV's ``gsiName``)."""
        if old == new:
            return self
        indexes = tuple(replace(i, name=new) if i.name == old else i for i in self.indexes)
        patterns = tuple(
            replace(p, index=new) if p.index == old else p for p in self.access_patterns
        )
        return replace(self, indexes=indexes, access_patterns=patterns)

    # -- keys ----------------------------------------------------------------
    @property
    def key_attrs(self) -> tuple[Attr, ...]:
        return (self.partition,) + ((self.sort,) if self.sort else ())

    @property
    def attribute_types(self) -> dict[str, AttrType]:
        """Every attribute that is a key of the table or of an index."""
        types: dict[str, AttrType] = {}
        for attr in self.key_attrs:
            types[attr.name] = attr.type
        for index in self.indexes:
            for index_attr in (index.partition, index.sort):
                if index_attr is not None:
                    if types.get(index_attr.name, index_attr.type) != index_attr.type:
                        raise SchemaError(f"{self.alias}: {index_attr.name} declared with two types")
                    types[index_attr.name] = index_attr.type
        return types

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The primary key of an item, or SchemaError naming what is missing."""
        missing = [a.name for a in self.key_attrs if item.get(a.name) in (None, "")]
        if missing:
            raise SchemaError(f"{self.alias}: missing key attribute(s) {', '.join(missing)}")
        return {a.name: a.coerce(item[a.name]) for a in self.key_attrs}

    def pattern_keys(self, pattern: AccessPattern) -> tuple[Attr, Attr | None]:
        """The partition and sort attributes a pattern's condition applies to."""
        if pattern.index:
            index = self.index(pattern.index)
            return index.partition, index.sort
        return self.partition, self.sort


def iter_patterns(specs: Iterable[TableSpec]):
    """Yield ``(table, pattern)`` for every declared access pattern."""
    for spec in specs:
        for pattern in spec.access_patterns:
            yield spec, pattern
