"""Secret references in templates: ``secret("name")`` renders a placeholder, never the value.

Artifacts in git hold the placeholder; the value is resolved only when a config goes to (or is compared
with) a device.

Examples:
    >>> secret_placeholder("bgp/r1-r2")
    '<<secret:bgp/r1-r2>>'
    >>> SECRET_RE.findall("neighbor 10.0.0.2 password <<secret:bgp/r1-r2>>")
    ['bgp/r1-r2']
"""

from __future__ import annotations

import re

__all__ = ["SECRET_NAME_RE", "SECRET_RE", "secret_placeholder"]

SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,127}$")
SECRET_RE = re.compile(r"<<secret:([A-Za-z0-9][A-Za-z0-9_./-]{0,127})>>")


def secret_placeholder(name: str) -> str:
    """The placeholder a template renders for secret ``name``."""
    if not isinstance(name, str) or not SECRET_NAME_RE.match(name):
        raise ValueError(f"secret name {name!r} must be letters, digits and _ . / - (at most 128)")
    return f"<<secret:{name}>>"
