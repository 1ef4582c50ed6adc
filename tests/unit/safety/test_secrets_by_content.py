"""Secrets by content, not by key name (issue 14, item 3): a rendered line carrying a credential (the
keywords masking knows: password, secret, key-string, authentication-key, md5, snmp-server community,
pre-shared-key, encrypted-password) must take its value from ``secret()``, or from ``not_secret()``, the
explicit, reviewed way to say a value is not one (a hash the device shows anyway)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from netimmutable.errors import RenderError
from netimmutable.inventory import load_inventory
from netimmutable.render import render_hosts
from netimmutable.repo import NetworkRepo
from tests.unit.deploy.conftest import Net
from tests.unit.netrepo_helpers import git, make_netrepo, write_files

CLEAR = "Cl34rT3xtV4lue"


@pytest.fixture
def repo(tmp_path: Path) -> NetworkRepo:
    return make_netrepo(tmp_path / "net")


def _render_error(repo: NetworkRepo, template: str, data: str = "") -> RenderError:
    files = {"templates/demo/main.j2": template}
    if data:
        files["inventory/hosts.yaml"] = f"a1:\n  data: {{{data}}}\n"
    write_files(repo.root, files)
    with pytest.raises(RenderError) as info:
        render_hosts(repo, load_inventory(repo).hosts())
    return info.value


@pytest.mark.parametrize(
    "line",
    [
        " neighbor 10.0.0.2 password {{ bgp_password }}",
        "enable secret 5 {{ bgp_password }}",
        " ip ospf message-digest-key 1 md5 {{ bgp_password }}",
        "snmp-server community {{ bgp_password }} RO",
        " pre-shared-key {{ bgp_password }}",
        'authentication-key "{{ bgp_password }}"',
    ],
)
def test_a_credential_from_data_is_refused_naming_host_template_and_line(
    repo: NetworkRepo, line: str
) -> None:
    err = _render_error(repo, f"hostname x\n{line}\n", f"bgp_password: {CLEAR}")
    assert err.host == "a1" and err.file == "templates/demo/main.j2"
    assert "rendered line 2" in err.message
    assert CLEAR not in str(err)  # the value is never quoted


def test_secret_and_not_secret_are_accepted(repo: NetworkRepo) -> None:
    write_files(
        repo.root,
        {
            "inventory/hosts.yaml": "a1:\n  data: {user_hash: '$6$abc$def'}\n",
            "templates/demo/main.j2": " neighbor 10.0.0.2 password {{ secret('bgp/a1') }}\n"
            "username admin secret 5 {{ not_secret(user_hash) }}\n"
            "description {{ not_secret('password policy') }} is elsewhere\n",
        },
    )
    [a1] = render_hosts(repo, load_inventory(repo).hosts())
    assert "password <<secret:bgp/a1>>" in a1.config and "secret 5 $6$abc$def" in a1.config


def test_not_secret_covers_only_the_value_it_was_given(repo: NetworkRepo) -> None:
    err = _render_error(
        repo,
        "username a secret 5 {{ not_secret(user_hash) }}\nusername b secret 5 {{ other }}\n",
        f"user_hash: '$6$abc', other: {CLEAR}",
    )
    assert "rendered line 2" in err.message


def test_the_issue_bgp_password_is_not_committed_in_clear(net: Net) -> None:
    """Issue 14: ``bgp_password: X`` in hosts.yaml rendered as ``password X`` was committed in clear."""
    net.edit_hosts(r"(\n  data:\n)", rf"\1    bgp_password: {CLEAR}\n", host="r1")
    main = net.root / "templates" / "frr" / "main.j2"
    main.write_text(main.read_text().replace("end\n", "! password {{ bgp_password | default('') }}\nend\n"))
    head = git(net.root, "rev-parse", "HEAD")
    result = net.cli("commit", "-m", "bgp password")
    assert result.exit_code == 1, result.output
    assert "host r1" in result.stderr and "templates/frr/main.j2" in result.stderr
    assert git(net.root, "rev-parse", "HEAD") == head
    assert CLEAR not in git(net.root, "log", "--all", "-p")
    assert CLEAR not in "".join(p.read_text() for p in (net.root / "snapshots").glob("*.cfg"))


def _vendor_form(form: str, value: str) -> str:
    return form.format(v=value)


@pytest.mark.parametrize(
    ("form", "line"),
    [
        ("snmp-server host 10.0.0.9 version 2c {v}", 2),
        ("snmp-server host 10.0.0.8 vrf MGMT informs version 2c {v} udp-port 162", 2),
        ("crypto isakmp key {v} address 0.0.0.0", 2),
        ("interface wlan0\n wpa-psk ascii 0 {v}", 3),
        ("interface eth1\n vrrp 1 authentication text {v}", 3),
        ("interface eth1\n standby 1 authentication {v}", 3),
        ("interface eth1\n standby 1 authentication text {v}", 3),  # over 8 characters: NAPALM misses it
        ("snmp-server user ops g1 v3 auth sha {v} priv aes 128 {{{{ secret('p') }}}}", 2),
        ("snmp-server user ops g1 v3 auth sha {{{{ secret('a') }}}} priv aes 128 {v}", 2),
        ("radius server R1\n address ipv4 10.0.0.7\n key {v}", 4),
    ],
)
def test_every_masked_form_in_clear_is_refused_naming_host_file_and_line(
    repo: NetworkRepo, form: str, line: int
) -> None:
    value = f"k{secrets.token_hex(3)}"  # at most 8 characters: the standby form's limit
    err = _render_error(repo, "hostname x\n" + _vendor_form(form, "{{ v }}") + "\n", f"v: {value}")
    assert (err.host, err.file) == ("a1", "templates/demo/main.j2")
    assert f"rendered line {line} " in err.message
    assert value not in str(err)
    # the same line from secret() renders
    write_files(
        repo.root, {"templates/demo/main.j2": "hostname x\n" + _vendor_form(form, "{{ secret('v') }}")}
    )
    [a1] = render_hosts(repo, load_inventory(repo).hosts())
    assert "<<secret:v>>" in a1.config


def test_commit_refuses_an_snmp_host_community_in_clear(net: Net) -> None:
    """The form NAPALM's own filter gets wrong (it masks ``informs``, not the community)."""
    value = f"k{secrets.token_hex(4)}"
    net.edit_hosts(r"(\n  data:\n)", rf"\1    community: {value}\n", host="r1")
    main = net.root / "templates" / "frr" / "main.j2"
    main.write_text(
        main.read_text().replace(
            "end\n", "snmp-server host 10.0.0.9 informs version 2c {{ community | default('') }}\nend\n"
        )
    )
    head = git(net.root, "rev-parse", "HEAD")
    result = net.cli("commit", "-m", "snmp")
    assert result.exit_code == 1, result.output
    assert "host r1" in result.stderr and "templates/frr/main.j2" in result.stderr
    assert "rendered line " in result.stderr and value not in result.output + result.stderr
    assert git(net.root, "rev-parse", "HEAD") == head
    assert value not in git(net.root, "log", "--all", "-p")
