"""The fault-injecting DynamoDB client the batch tests use; it lives with the benchmarks."""

from tools.bench.faults import FaultyClient, inject_faults

__all__ = ["FaultyClient", "inject_faults"]
