"""Settings a function cannot run without, read from its environment.

The stacks set every table name a function uses. A missing one is a broken
deployment, not a reason to fall back to some default table: ``required``
raises ``MissingSetting`` naming the variable, and each handler calls
``require`` for its variables before it does any work, so the first
invocation of a misconfigured container fails with that message (a function
error, not a 500 from inside a route).
"""

from __future__ import annotations

import os


class MissingSetting(RuntimeError):
    """A variable the function's stack must set is missing or empty."""

    def __init__(self, name: str):
        super().__init__(f"environment variable {name} is not set; the function's stack must set it")
        self.name = name


def required(name: str) -> str:
    """The value of ``name``, or ``MissingSetting``."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(name)
    return value


def require(*names: str) -> None:
    """Fail with ``MissingSetting`` for the first of ``names`` that is missing."""
    for name in names:
        required(name)
