"""Masking and secret forms on a large config: what NAPALM's sanitize filters and the secret forms cost.

One generated EOS-style config (``FULL``: 2,000 interfaces, 2,000 BGP neighbours each with a type 7
password, 200 users with ``sha512`` secrets, SNMP, TACACS, NTP keys: about 12,000 lines; ``QUICK``: a tenth)
is measured side by side in one run, each figure the best of ``ROUNDS``:

- ``mask`` as every diff, plan and record shows text (netimmutable's keyword patterns plus NAPALM's sanitize
  filters for eos/ios/nxos/iosxr and junos), against ``mask(napalm=False)`` (the keyword patterns alone);
- ``normalize`` with the run's secrets (placeholders resolved, values in a device form recognized:
  ``netimmutable.secretforms.canonical``) against ``normalize`` without secrets, cold (no hash checked
  before in the process) and warm (the drift gate, convergence and verify compare the same hashes again).
  The secrets are 3 names; the config holds 2,000 type 7 values of one of them and 200 ``sha512`` hashes
  (2 of a known secret): each hash is recomputed once per known secret, the dominant cost.

Normalize is memoized per text, so each round adds a distinct comment line (dropped by normalization).
"""

from __future__ import annotations

import secrets as rnd
from pathlib import Path

from bench.common import BenchResult, timed
from netimmutable import passhash, secretforms
from netimmutable.normalize import mask, normalize
from netimmutable.secretforms import encode

__all__ = ["run"]

FULL = {"interfaces": 2000, "neighbors": 2000, "users": 200}
QUICK = {"interfaces": 200, "neighbors": 200, "users": 20}
ROUNDS = 3


def _config(size: dict[str, int], secrets: dict[str, str]) -> str:
    lines = ["! Command: show running-config", "! device: big (DCS-7280, EOS-4.31.2F)", "no aaa root", "!"]
    for n in range(size["users"]):
        value = secrets["admin"] if n < 2 else rnd.token_urlsafe(9)
        lines.append(f"username u{n} privilege 15 role network-admin secret sha512 {encode(value, 'sha512')}")
    lines += [
        "!",
        f"tacacs-server key 7 {encode(secrets['tacacs'], 'type7')}",
        "snmp-server community public ro",
        "ntp authentication-key 1 md5 7 060506324F41",
        "!",
    ]
    for n in range(size["interfaces"]):
        lines += [f"interface Ethernet{n + 1}", f"   description port {n}", "   no switchport"]
        lines += [f"   ip address 10.{n // 250}.{n % 250}.1/30", "!"]
    lines += ["router bgp 65001", "   router-id 10.255.0.1"]
    for n in range(size["neighbors"]):
        peer = f"10.{n // 250}.{n % 250}.2"
        lines += [f"   neighbor {peer} remote-as {65002 + n}"]
        lines += [f"   neighbor {peer} password 7 {encode(secrets['bgp'], 'type7')}"]
    return "\n".join([*lines, "!", "end"]) + "\n"


def _best(work: list[float]) -> float:
    return min(work)


def run(work: Path, quick: bool) -> BenchResult:
    del work  # nothing on disk
    size = QUICK if quick else FULL
    secrets = {"admin": rnd.token_urlsafe(12), "bgp": rnd.token_urlsafe(12), "tacacs": rnd.token_urlsafe(12)}
    config = _config(size, secrets)
    result = BenchResult("masking")
    result.inputs = {**size, "lines": config.count("\n"), "bytes": len(config), "secrets": len(secrets)}
    times: dict[str, list[float]] = {
        "mask": [],
        "mask_own": [],
        "norm": [],
        "norm_secrets": [],
        "norm_warm": [],
    }
    for i in range(ROUNDS):
        text = f"{config}! round {i}\n"
        with timed() as t:
            shown = mask(text)
        times["mask"].append(t.wall)
        with timed() as t:
            mask(text, napalm=False)
        times["mask_own"].append(t.wall)
        with timed() as t:
            normalize(text, "eos")
        times["norm"].append(t.wall)
        secretforms._matches.cache_clear()
        with timed() as t:
            canon = normalize(text, "eos", secrets=secrets)
        times["norm_secrets"].append(t.wall)
        with timed() as t:
            normalize(text + "! again\n", "eos", secrets=secrets)
        times["norm_warm"].append(t.wall)
    assert not any(value in shown for value in secrets.values())  # noqa: S101 - a wrong bench is worse
    recognized = canon.count("<<secret:")
    result.inputs["placeholders_after_normalize"] = recognized
    best = {name: _best(values) for name, values in times.items()}
    result.figure("mask (own patterns + NAPALM filters)", best["mask"], "s")
    result.figure("mask (own patterns only)", best["mask_own"], "s")
    result.figure("normalize", best["norm"], "s")
    result.figure("normalize with secrets, cold (forms recognized)", best["norm_secrets"], "s")
    result.figure("normalize with secrets, hashes checked before", best["norm_warm"], "s")
    result.ratio(
        "mask with NAPALM filters vs without",
        ("with", best["mask"]),
        ("without", best["mask_own"]),
        "<=",
        3.0,
    )
    result.ratio(
        "normalize with secrets vs without",
        ("with secrets, cold", best["norm_secrets"]),
        ("without", best["norm"]),
        "<=",
        20.0,
    )
    result.ratio(
        "normalize with secrets (warm) vs without",
        ("with secrets, warm", best["norm_warm"]),
        ("without", best["norm"]),
        "<=",
        3.0,
    )
    crypt = "the C library's crypt" if passhash._CRYPT is not None else "pure Python"
    result.notes.append(
        f"cold: each sha512 hash is recomputed once per known secret (SHA-512 crypt, 5,000 rounds, {crypt}); "
        "the users' hashes dominate it. Warm: a process remembers each (hash, secret) check"
    )
    return result
