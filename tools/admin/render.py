"""Human output (rich tables) and machine output (JSON on stdout)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(value.value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value.value)).decode()
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False)


class Output:
    def __init__(self, as_json: bool):
        from rich.console import Console

        self.as_json = as_json
        self.console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
        if not self.console.is_terminal and not os.environ.get("COLUMNS"):
            # Piped or captured output: do not squeeze tables into 80 columns.
            self.console.width = 160

    # -- JSON ---------------------------------------------------------------
    def json(self, value: Any) -> None:
        sys.stdout.write(json.dumps(value, default=_default, ensure_ascii=False, indent=2) + "\n")

    # -- human --------------------------------------------------------------
    @staticmethod
    def cell(value: Any):
        from rich.text import Text

        if value is None:
            return Text("")
        if isinstance(value, str):
            return Text(value)
        if isinstance(value, bool):
            return Text("true" if value else "false")
        if isinstance(value, (dict, list, tuple, set)):
            return Text(dumps(value))
        return Text(str(value))

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
        from rich.table import Table

        table = Table(title=title, title_justify="left", show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(self.cell(v) for v in row))
        self.console.print(table)

    def items(self, key_names: Sequence[str], items: Sequence[Mapping[str, Any]], title: str | None = None) -> None:
        columns = list(key_names)
        for item in items:
            for name in item:
                if name not in columns:
                    columns.append(name)
        self.table(columns, ([item.get(c) for c in columns] for item in items), title)

    def record(self, item: Mapping[str, Any], title: str | None = None) -> None:
        self.table(("attribute", "value"), item.items(), title)

    def line(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(text))

    def note(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(text, style="dim"))
