"""``make load``: Locust against the deployed APIs on the local target, then the counters checked."""
