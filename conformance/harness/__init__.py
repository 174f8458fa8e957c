"""Harness of the Assent conformance suite: spec loading, wire client, target, reports."""
