"""The password hashes devices show, computed and checked here: SHA-512 crypt (``$6$``), MD5 crypt (``$1$``,
Cisco type 5) and Cisco type 9 (scrypt, ``$9$salt$hash``). Pure functions on the standard library.

Sources: "Unix crypt using SHA-256 and SHA-512" (Ulrich Drepper, https://www.akkadia.org/drepper/SHA-crypt.txt:
the algorithm, the byte order of the final encoding, the ``rounds=`` option); MD5 crypt as in FreeBSD's
``crypt-md5.c`` (Poul-Henning Kamp), the scheme of Cisco type 5; Cisco type 9 is scrypt (N=16384, r=1, p=1,
32 bytes) of the password with a 14-character salt, both in the ``./0-9A-Za-z`` alphabet (Cisco, "Cisco IOS
Password Encryption Facts"; netutils' ``encrypt_cisco_type9`` computes it the same way). Python's own
``crypt`` module is deprecated and gone in 3.13, so the two crypt schemes are written out here; SHA-512
crypt uses the C library's while Python has it (it is the slow one: 5,000 rounds).

Examples:
    >>> sha512_crypt("secret", "saltsalt")[:20]
    '$6$saltsalt$TVLlQcbp'
    >>> sha512_crypt_matches(sha512_crypt("secret", "saltsalt"), "secret")
    True
    >>> md5_crypt("cisco", "abcd")
    '$1$abcd$2hDGYdE0UrwK2pqoiF6BB1'
    >>> cisco_type9("cisco", "abcdefghijklmn")[:18]
    '$9$abcdefghijklmn$'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import re
import secrets as _random
import warnings
from collections.abc import Callable

__all__ = [
    "CRYPT_ALPHABET",
    "cisco_type9",
    "cisco_type9_matches",
    "md5_crypt",
    "md5_crypt_matches",
    "random_salt",
    "sha512_crypt",
    "sha512_crypt_matches",
    "sha512_crypt_python",
]

CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B64_TO_CRYPT = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", CRYPT_ALPHABET
)
_SHA512_ROUNDS = 5000
_SHA512_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
    (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
)  # fmt: skip
_MD5_ORDER = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))


def random_salt(length: int) -> str:
    """``length`` random characters of the crypt alphabet."""
    return "".join(_random.choice(CRYPT_ALPHABET) for _ in range(length))


def _b64_24(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(CRYPT_ALPHABET[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat(data: bytes, length: int) -> bytes:
    return (data * (length // len(data) + 1))[:length]


def _system_crypt() -> Callable[[str, str], str] | None:
    """The C library's ``crypt`` where Python still offers it (3.11, 3.12): five times faster than the code
    below for SHA-512 crypt, and the same result (``tests/unit/test_secret_forms.py`` checks both)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            module = importlib.import_module("crypt")
        except ImportError:
            return None
    function: Callable[[str, str], str] = module.crypt
    return function


_CRYPT = _system_crypt()


def sha512_crypt(password: str, salt: str | None = None, rounds: int | None = None) -> str:
    """``$6$[rounds=N$]salt$hash`` of ``password`` (a random 16-character salt when None)."""
    s = (random_salt(16) if salt is None else salt)[:16]
    if _CRYPT is not None and "$" not in s and "\0" not in password:
        shown = _CRYPT(password, "$6$" + ("" if rounds is None else f"rounds={rounds}$") + s)
        if shown and shown.startswith("$6$"):
            return shown
    return sha512_crypt_python(password, s, rounds)


def sha512_crypt_python(password: str, salt: str, rounds: int | None = None) -> str:
    """SHA-512 crypt written out (Drepper's specification), for Pythons without ``crypt``."""
    p = password.encode("utf-8")
    s = salt[:16].encode("ascii")
    n = _SHA512_ROUNDS if rounds is None else min(max(rounds, 1000), 999_999_999)
    b = hashlib.sha512(p + s + p).digest()
    a = hashlib.sha512(p + s)
    a.update(_repeat(b, len(p)))
    i = len(p)
    while i:
        a.update(b if i & 1 else p)
        i >>= 1
    c = a.digest()
    dp = _repeat(hashlib.sha512(p * len(p)).digest(), len(p))
    ds = _repeat(hashlib.sha512(s * (16 + c[0])).digest(), len(s))
    for r in range(n):
        h = hashlib.sha512(dp if r & 1 else c)
        if r % 3:
            h.update(ds)
        if r % 7:
            h.update(dp)
        h.update(c if r & 1 else dp)
        c = h.digest()
    encoded = "".join(_b64_24(c[x], c[y], c[z], 4) for x, y, z in _SHA512_ORDER) + _b64_24(0, 0, c[63], 2)
    head = "$6$" if rounds is None else f"$6$rounds={n}$"
    return f"{head}{s.decode('ascii')}${encoded}"


_SHA512_SHOWN = re.compile(r"^\$6\$(?:rounds=(\d+)\$)?([^$]{0,16})\$[./0-9A-Za-z]{86}$")


def sha512_crypt_matches(shown: str, password: str) -> bool:
    """Whether ``shown`` (a ``$6$`` value a device shows) is the hash of ``password``."""
    found = _SHA512_SHOWN.match(shown)
    if found is None:
        return False
    rounds = int(found[1]) if found[1] else None
    return hmac.compare_digest(sha512_crypt(password, found[2], rounds), shown)


def md5_crypt(password: str, salt: str | None = None) -> str:
    """``$1$salt$hash`` of ``password`` (a random 4-character salt when None, as Cisco type 5 shows)."""
    p = password.encode("utf-8")
    s = (random_salt(4) if salt is None else salt)[:8].encode("ascii")
    ctx = hashlib.md5(p + b"$1$" + s)  # noqa: S324 - the scheme is MD5 crypt: matching what devices show
    final = hashlib.md5(p + s + p).digest()  # noqa: S324
    ctx.update(_repeat(final, len(p)))
    i = len(p)
    while i:
        ctx.update(b"\0" if i & 1 else p[:1])
        i >>= 1
    final = ctx.digest()
    for r in range(1000):
        h = hashlib.md5(p if r & 1 else final)  # noqa: S324
        if r % 3:
            h.update(s)
        if r % 7:
            h.update(p)
        h.update(final if r & 1 else p)
        final = h.digest()
    encoded = "".join(_b64_24(final[x], final[y], final[z], 4) for x, y, z in _MD5_ORDER)
    return f"$1${s.decode('ascii')}${encoded}{_b64_24(0, 0, final[11], 2)}"


_MD5_SHOWN = re.compile(r"^\$1\$([^$]{0,8})\$[./0-9A-Za-z]{22}$")


def md5_crypt_matches(shown: str, password: str) -> bool:
    found = _MD5_SHOWN.match(shown)
    return found is not None and hmac.compare_digest(md5_crypt(password, found[1]), shown)


def cisco_type9(password: str, salt: str | None = None) -> str:
    """Cisco type 9: ``$9$<14-character salt>$<scrypt, 43 characters>``."""
    s = random_salt(14) if salt is None else salt
    key = hashlib.scrypt(password.encode("utf-8"), salt=s.encode("ascii"), n=2**14, r=1, p=1, dklen=32)
    return f"$9${s}${base64.b64encode(key).decode('ascii').translate(_B64_TO_CRYPT).rstrip('=')}"


_TYPE9_SHOWN = re.compile(r"^\$9\$([./0-9A-Za-z]{14})\$[./0-9A-Za-z]{43}$")


def cisco_type9_matches(shown: str, password: str) -> bool:
    found = _TYPE9_SHOWN.match(shown)
    return found is not None and hmac.compare_digest(cisco_type9(password, found[1]), shown)
