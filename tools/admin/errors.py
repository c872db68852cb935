"""The two kinds of failure the CLI reports, each with its exit code."""

from __future__ import annotations


class AdminError(Exception):
    exit_code = 1


class UsageError(AdminError):
    """Bad input: unknown table or pattern, missing key part, wrong type."""

    exit_code = 2


class Failure(AdminError):
    """The request was valid but did not succeed: endpoint, missing item, condition."""

    exit_code = 1
