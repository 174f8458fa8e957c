"""Conformance cases, one module per area of spec/PROTOCOL.md."""
