"""Secret forms: a secret goes on the device in the form the device shows, so that text comparison can hold.

A template says ``secret("name", form=...)``; the artifact holds ``<<secret:name:form>>``; at push time the
resolved value is encoded in that form (``encode``), and the device keeps it as given. Forms:

==========  =====================================================  ==========================================
form        what the device shows                                  where (vendor documentation)
==========  =====================================================  ==========================================
plain       the value itself                                       everywhere (the default)
type7       Cisco "7": a 2-digit seed, then the value XORed with    IOS/IOS-XE, NX-OS, IOS-XR ``password 7``,
            Cisco's fixed key, in hex (reversible)                  ``key 7``; Cisco, "Cisco IOS Password
                                                                    Encryption Facts"
juniper9    Junos ``$9$``: the value obfuscated with a random salt  Junos ``authentication-key``,
            (reversible)                                            ``secret``, ``pre-shared-key``; Juniper,
                                                                    "Encrypted passwords" (``## SECRET-DATA``)
sha512      ``$6$salt$hash``: SHA-512 crypt (one-way)               EOS ``secret sha512``, Junos
                                                                    ``encrypted-password``, IOS-XR
                                                                    ``secret 10``
type5       ``$1$salt$hash``: MD5 crypt (one-way)                   IOS ``secret 5``, Junos (old)
type9       ``$9$salt$hash``: scrypt (one-way)                      IOS-XE/NX-OS ``secret 9``
==========  =====================================================  ==========================================

The encoded text is random (seed, salt), and a device may show another encoding of the same secret (one it
computed itself from a clear-text value). So comparison never compares the encodings: ``canonical`` turns
every value of a form that *is* a known secret (a reversible form decoded and compared, a hash recomputed
with the device's own salt) into that secret's placeholder, on both sides. A value that is not the secret
stays as it is: a different secret is still a difference. Decoding and hashing happen only in memory; the
values are never logged.

The reversible algorithms follow Cisco's published type 7 key table and the ``$9$`` scheme of
Kevin Brintnall's ``Crypt::Juniper`` (the one netutils' ``decrypt_juniper_type9`` also implements); the
one-way ones are in ``netimmutable.passhash``.

Examples:
    >>> decode_type7("0822455D0A16")
    'cisco'
    >>> decode_type7(encode_type7("s3cret", seed=5))
    's3cret'
    >>> decode_juniper9(encode_juniper9("s3cret"))
    's3cret'
    >>> canonical("neighbor 10.0.0.2 password 7 0822455D0A16", {"bgp": "cisco"})
    'neighbor 10.0.0.2 password 7 <<secret:bgp:type7>>'
    >>> canonical("neighbor 10.0.0.2 password 7 0822455D0A16", {"bgp": "other"})
    'neighbor 10.0.0.2 password 7 0822455D0A16'
"""

from __future__ import annotations

import functools
import re
import secrets as _random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from netimmutable.passhash import (
    cisco_type9,
    cisco_type9_matches,
    md5_crypt,
    md5_crypt_matches,
    sha512_crypt,
    sha512_crypt_matches,
)
from netimmutable.secretref import FORM_NAMES, SECRET_RE

__all__ = [
    "FORMS",
    "FORM_VALUE_RE",
    "SecretForm",
    "align",
    "canonical",
    "decode_juniper9",
    "decode_type7",
    "encode",
    "encode_juniper9",
    "encode_type7",
]

# -------------------------------------------------------------------------------------------- Cisco type 7
_XLAT = b"dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


def encode_type7(value: str, seed: int | None = None) -> str:
    """Cisco type 7 of ``value`` (seed 0-15; random when None)."""
    s = _random.randbelow(16) if seed is None else seed
    data = value.encode("latin-1")
    return f"{s:02d}" + "".join(f"{b ^ _XLAT[(s + i) % len(_XLAT)]:02X}" for i, b in enumerate(data))


def decode_type7(shown: str) -> str | None:
    """The value of a type 7 text (None when it is not one)."""
    if len(shown) < 4 or len(shown) % 2 or not shown[:2].isdigit():
        return None
    seed = int(shown[:2])
    try:
        data = bytes.fromhex(shown[2:])
    except ValueError:
        return None
    return bytes(b ^ _XLAT[(seed + i) % len(_XLAT)] for i, b in enumerate(data)).decode("latin-1")


# ------------------------------------------------------------------------------------------ Junos $9$
_FAMILY = ("QzF3n6/9CAtpu0O", "B1IREhcSyrleKvMW8LXx", "7N-dVbwsY2g4oaJZGUDj", "iHkq.mPf5T")
_EXTRA = {c: 3 - i for i, family in enumerate(_FAMILY) for c in family}
_NUM_ALPHA = "".join(_FAMILY)
_ALPHA_NUM = {c: i for i, c in enumerate(_NUM_ALPHA)}
_ENCODING = ((1, 4, 32), (1, 16, 32), (1, 8, 32), (1, 64), (1, 32), (1, 4, 16, 128), (1, 32, 64))


def encode_juniper9(value: str) -> str:
    """``$9$`` of ``value`` with a random salt."""
    salt = _random.choice(_NUM_ALPHA)
    out = ["$9$", salt, *(_random.choice(_NUM_ALPHA) for _ in range(_EXTRA[salt]))]
    prev = salt
    for pos, char in enumerate(value):
        number = ord(char)
        if number > 255:
            raise ValueError("a $9$ secret holds Latin-1 characters only")
        gaps: list[int] = []
        for weight in reversed(_ENCODING[pos % len(_ENCODING)]):
            gaps.insert(0, number // weight)
            number %= weight
        for gap in gaps:
            prev = _NUM_ALPHA[(gap + _ALPHA_NUM[prev] + 1) % len(_NUM_ALPHA)]
            out.append(prev)
    return "".join(out)


def decode_juniper9(shown: str) -> str | None:
    """The value of a ``$9$`` text (None when it is not one)."""
    chars = shown[3:] if shown.startswith("$9$") else ""
    if not chars or any(c not in _ALPHA_NUM for c in chars):
        return None
    prev, chars = chars[0], chars[1 + _EXTRA[chars[0]] :]
    out: list[str] = []
    while chars:
        weights = _ENCODING[len(out) % len(_ENCODING)]
        if len(chars) < len(weights):
            return None
        nibble, chars = chars[: len(weights)], chars[len(weights) :]
        number = 0
        for weight, char in zip(weights, nibble, strict=True):
            number += weight * ((_ALPHA_NUM[char] - _ALPHA_NUM[prev]) % len(_NUM_ALPHA) - 1)
            prev = char
        out.append(chr(number % 256))
    return "".join(out)


# ---------------------------------------------------------------------------------------------- the table
@dataclass(frozen=True, slots=True)
class SecretForm:
    """One form: how a value is put in it, how a shown text is checked against a value, what it looks like."""

    name: str
    encode: Callable[[str], str]
    matches: Callable[[str, str], bool]
    shape: str
    """A regular expression for a value of this form as devices print it (empty for ``plain``)."""
    reversible: bool


def _decoded_is(decode: Callable[[str], str | None]) -> Callable[[str, str], bool]:
    return lambda shown, value: decode(shown) == value


FORMS: Mapping[str, SecretForm] = {
    form.name: form
    for form in (
        SecretForm("plain", lambda v: v, lambda shown, v: shown == v, "", reversible=True),
        SecretForm(
            "type7",
            encode_type7,
            _decoded_is(decode_type7),
            r"(?<![^\s\"])\d\d(?:[0-9A-Fa-f]{2}){2,}(?![^\s;\"])",
            reversible=True,
        ),
        SecretForm(
            "type9",
            cisco_type9,
            cisco_type9_matches,
            r"\$9\$[./0-9A-Za-z]{14}\$[./0-9A-Za-z]{43}(?![^\s;\"])",
            reversible=False,
        ),
        SecretForm(
            "juniper9",
            encode_juniper9,
            _decoded_is(decode_juniper9),
            r"\$9\$[A-Za-z0-9./-]+(?![^\s;\"])",
            reversible=True,
        ),
        SecretForm(
            "sha512",
            sha512_crypt,
            sha512_crypt_matches,
            r"\$6\$(?:rounds=\d+\$)?[^\s$;\"]{0,16}\$[./0-9A-Za-z]{86}(?![^\s;\"])",
            reversible=False,
        ),
        SecretForm(
            "type5",
            md5_crypt,
            md5_crypt_matches,
            r"\$1\$[^\s$;\"]{0,8}\$[./0-9A-Za-z]{22}(?![^\s;\"])",
            reversible=False,
        ),
    )
}
assert tuple(sorted(FORMS)) == tuple(sorted(FORM_NAMES))  # noqa: S101 - one list of names, two modules

FORM_VALUE_RE = re.compile("|".join(f"(?P<{f.name}>{f.shape})" for f in FORMS.values() if f.shape))
"""A value in any form but ``plain`` (the group named after the form matched)."""


@functools.lru_cache(maxsize=4096)
def _matches(form: str, shown: str, value: str) -> bool:
    """``FORMS[form].matches``, remembered: a hash is recomputed once per process for each value it is
    checked against, not once per comparison (the drift gate, convergence and verify see the same text)."""
    return FORMS[form].matches(shown, value)


def encode(value: str, form: str | None) -> str:
    """``value`` in ``form`` (None: plain), as it is sent to the device."""
    return FORMS[form or "plain"].encode(value)


def canonical(text: str, secrets: Mapping[str, str]) -> str:
    """``text`` with every value in a form that is the encoding of one of ``secrets`` replaced by that
    secret's placeholder in that form, and placeholders of secrets sharing a value named after the first
    of them, so the artifact and the device's text compare equal whatever encoding each holds."""
    if not secrets:
        return text
    first: dict[str, str] = {}  # value -> the first name holding it
    for name, value in sorted(secrets.items()):
        if value:
            first.setdefault(value, name)
    canon = {name: first.get(value, name) for name, value in secrets.items()}

    def token(found: re.Match[str]) -> str:
        form = str(found.lastgroup)
        shown = found[0]
        for value, name in first.items():
            if _matches(form, shown, value):
                return f"<<secret:{name}:{form}>>"
        return shown

    text = FORM_VALUE_RE.sub(token, text)
    if len(first) < len(canon):
        text = SECRET_RE.sub(
            lambda m: (
                m[0] if m["form"] is None else f"<<secret:{canon.get(m['name'], m['name'])}:{m['form']}>>"
            ),
            text,
        )
    return text


def _known(text: str, first: Mapping[str, str]) -> Iterator[tuple[re.Match[str], str, str]]:
    """Each value in a form in ``text`` that encodes a known secret: (match, name, form)."""
    for found in FORM_VALUE_RE.finditer(text):
        form = str(found.lastgroup)
        for value, name in first.items():
            if _matches(form, found[0], value):
                yield found, name, form
                break


def align(intended: str, running: str, secrets: Mapping[str, str]) -> str:
    """``intended`` with each value in a form that encodes a known secret replaced by the device's own
    encoding of that secret in that form, where ``running`` holds one: the candidate a ``device`` comparison
    loads then differs from the running config only where the configuration does (a new salt is no
    change). A secret the device holds in no such form (or holds another value) is left as it is."""
    first: dict[str, str] = {}
    for name, value in sorted(secrets.items()):
        if value:
            first.setdefault(value, name)
    shown = {(name, form): found[0] for found, name, form in _known(running, first)}
    if not shown:
        return intended
    out: list[str] = []
    end = 0
    for found, name, form in _known(intended, first):
        out += [intended[end : found.start()], shown.get((name, form), found[0])]
        end = found.end()
    return "".join(out) + intended[end:]
