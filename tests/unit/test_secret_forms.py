"""Secret forms (``secret(name, form=...)``): a secret rendered in the form the device shows compares equal
with the device's text under the ``text`` strategy, whatever seed or salt either side used; another secret
is still a difference. Encodings are checked against independent implementations (netutils, Python's
``crypt``); every secret is generated at run time."""

from __future__ import annotations

import importlib
import secrets as rnd
import warnings
from pathlib import Path
from types import ModuleType

import pytest

from netimmutable.errors import RenderError
from netimmutable.inventory import load_inventory
from netimmutable.normalize import mask, normalize, normalized_diff, resolve_secrets
from netimmutable.passhash import cisco_type9, md5_crypt, sha512_crypt, sha512_crypt_python
from netimmutable.render import render_hosts
from netimmutable.secretforms import FORMS, canonical, decode_juniper9, decode_type7, encode
from netimmutable.secrets import Secrets

from .netrepo_helpers import make_netrepo, write_files


def _legacy(name: str) -> ModuleType:
    """A module that warns on import (``crypt`` is deprecated; netutils imports it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(name)


def _secret() -> str:
    return rnd.token_urlsafe(12)


# one line per form, in the syntax of the platform that shows it
LINES = {
    "type7": ("ios", " neighbor 10.0.0.2 password 7 {v}"),
    "juniper9": ("junos", '                authentication-key "{v}"; ## SECRET-DATA'),
    "sha512": ("eos", "username admin privilege 15 role network-admin secret sha512 {v}"),
    "type5": ("ios", "enable secret 5 {v}"),
    "type9": ("ios", "username admin privilege 15 secret 9 {v}"),
}


def test_encodings_agree_with_independent_implementations() -> None:
    netutils = _legacy("netutils.password")
    crypt = _legacy("crypt")
    for _ in range(5):
        value = _secret()
        assert netutils.decrypt_type7(encode(value, "type7")) == value
        assert decode_type7(netutils.encrypt_type7(value[:25])) == value[:25]
        assert netutils.decrypt_juniper_type9(encode(value, "juniper9")) == value
        assert decode_juniper9(netutils.encrypt_juniper_type9(value)) == value
        salt = rnd.token_hex(7)
        assert cisco_type9(value, salt) == netutils.encrypt_cisco_type9(value, salt)
        assert sha512_crypt(value, salt) == crypt.crypt(value, f"$6${salt}")
        assert sha512_crypt(value, salt, rounds=2000) == crypt.crypt(value, f"$6$rounds=2000${salt}")
        assert sha512_crypt_python(value, salt) == crypt.crypt(value, f"$6${salt}")  # Python 3.13 on
        assert sha512_crypt_python(value, salt, 1000) == crypt.crypt(value, f"$6$rounds=1000${salt}")
        assert md5_crypt(value, salt[:4]) == crypt.crypt(value, f"$1${salt[:4]}")
    assert decode_type7("0822455D0A16") == "cisco"  # the value Cisco's documentation shows


@pytest.mark.parametrize("form", sorted(LINES))
def test_the_artifact_and_the_device_compare_equal_whatever_encoding_each_holds(form: str) -> None:
    platform, line = LINES[form]
    value = _secret()
    artifact = line.format(v=f"<<secret:bgp:{form}>>").replace("; ## SECRET-DATA", ";") + "\n"
    pushed = resolve_secrets(artifact, {"bgp": value})
    device = line.format(v=encode(value, form)) + "\n"  # the device's own encoding: another seed or salt
    assert value not in pushed and FORMS[form].matches(pushed.split()[-1].strip('";'), value)
    for intended in (artifact, pushed):
        assert normalized_diff(intended, device, platform, secrets={"bgp": value}) == ""
        assert normalize(intended, platform, secrets={"bgp": value}) == normalize(
            device, platform, secrets={"bgp": value}
        )
    other = _secret()  # the device holds another secret: still a difference, shown masked
    drifted = line.format(v=encode(other, form)) + "\n"
    diff = normalized_diff(artifact, drifted, platform, secrets={"bgp": value})
    assert diff.startswith("--- expected")
    assert value not in diff and other not in diff and encode(other, form) not in diff
    assert drifted.split()[-1].strip('";#') not in diff.replace("SECRET-DATA", "")


def test_a_form_value_of_no_known_secret_is_left_as_the_device_shows_it() -> None:
    shown = f"enable secret 5 {md5_crypt(_secret())}"
    assert canonical(shown, {"x": _secret()}) == shown
    assert canonical(shown, {}) == shown


def test_two_secrets_sharing_a_value_compare_equal_under_either_name() -> None:
    value = _secret()
    secrets = {"a": value, "b": value}
    artifact = "tacacs-server key 7 <<secret:b:type7>>\n"
    assert (
        normalized_diff(artifact, f"tacacs-server key 7 {encode(value, 'type7')}\n", "ios", secrets=secrets)
        == ""
    )


def test_a_run_resolves_each_form_once_and_masks_its_encodings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_netrepo(tmp_path / "net")
    value = _secret()
    monkeypatch.setenv("NETIMMUTABLE_SECRET_BGP", value)
    run = Secrets(repo)
    text = "password 7 <<secret:bgp:type7>>\nsecret sha512 <<secret:bgp:sha512>>\npassword <<secret:bgp>>\n"
    first, again = run.resolve(text), run.resolve(text)
    assert first == again  # the config pushed is the config checked
    lines = first.splitlines()
    assert decode_type7(lines[0].split()[-1]) == value and FORMS["sha512"].matches(
        lines[1].split()[-1], value
    )
    assert run.mask(first) == text
    assert value not in mask(first) and lines[0].split()[-1] not in mask(first)


def test_secret_takes_a_form_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(repo.root, {"templates/demo/main.j2": "enable secret 9 {{ secret('en', form='type9') }}\n"})
    assert (
        render_hosts(repo, load_inventory(repo).hosts())[0].config == "enable secret 9 <<secret:en:type9>>\n"
    )
    write_files(repo.root, {"templates/demo/main.j2": "enable secret 9 {{ secret('en', form='rot13') }}\n"})
    with pytest.raises(RenderError) as info:
        render_hosts(repo, load_inventory(repo).hosts())
    assert info.value.host == "a1" and "form 'rot13'" in info.value.message and info.value.line == 1
