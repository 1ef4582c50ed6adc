"""Secret references in templates: ``secret("name")`` renders a placeholder, never the value.

Artifacts in git hold the placeholder; the value is resolved only when a config goes to (or is compared
with) a device. ``secret("name", form="type7")`` says in which form the value goes on the device
(``netimmutable.secretforms``): the placeholder then carries the form, ``<<secret:name:type7>>``.

Examples:
    >>> secret_placeholder("bgp/r1-r2")
    '<<secret:bgp/r1-r2>>'
    >>> secret_placeholder("admin", form="sha512")
    '<<secret:admin:sha512>>'
    >>> text = "password <<secret:bgp/r1-r2>> 7 <<secret:t:type7>>"
    >>> [(m["name"], m["form"]) for m in SECRET_RE.finditer(text)]
    [('bgp/r1-r2', None), ('t', 'type7')]
"""

from __future__ import annotations

import re

__all__ = ["FORM_NAMES", "SECRET_NAME_RE", "SECRET_RE", "secret_placeholder"]

SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,127}$")
SECRET_RE = re.compile(r"<<secret:(?P<name>[A-Za-z0-9][A-Za-z0-9_./-]{0,127})(?::(?P<form>[a-z0-9]+))?>>")
"""A placeholder: group 1 (``name``) the secret's name, ``form`` its form (None: ``plain``)."""

FORM_NAMES = ("plain", "type7", "juniper9", "sha512", "type5", "type9")
"""The forms ``secret()`` takes (what each one is: ``netimmutable.secretforms``)."""


def secret_placeholder(name: str, form: str = "plain") -> str:
    """The placeholder a template renders for secret ``name`` in ``form``."""
    if not isinstance(name, str) or not SECRET_NAME_RE.match(name):
        raise ValueError(f"secret name {name!r} must be letters, digits and _ . / - (at most 128)")
    if form not in FORM_NAMES:
        raise ValueError(f"secret {name!r}: form {form!r} is not one of {', '.join(FORM_NAMES)}")
    return f"<<secret:{name}>>" if form == "plain" else f"<<secret:{name}:{form}>>"
