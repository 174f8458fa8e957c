"""Assent protocol v1 conformance suite (black-box, pytest). See README.md."""
