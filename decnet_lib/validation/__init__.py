"""Validation of topology documents: every rule, each with a stable code."""

from decnet_lib.issues import Code, Issue, Severity, has_errors

__all__ = ["Code", "Issue", "Severity", "has_errors"]
