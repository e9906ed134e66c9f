"""Docker image references, checked against the reference grammar of the distribution
project (`[domain/]path[:tag][@digest]`), so that no value can reach Docker's API as a
path of its own (`../containers/<id>`)."""

from __future__ import annotations

import re

MAX_NAME = 255
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::{_TAG})?(?:@{_DIGEST})?"
)


def image_problem(reference: str) -> str | None:
    """Why `reference` is not a valid image reference; None when it is."""
    if not reference or reference != reference.strip():
        return "an image reference must not be empty or padded with spaces"
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        return ("not an image reference ([registry/]name[:tag][@digest]; lower-case "
                "name components separated by '/')")
    if len(match.group("name")) > MAX_NAME:
        return f"the repository name is longer than {MAX_NAME} characters"
    return None
