"""``adopt.verbatim_template``: the template renders the running config byte for byte (credentials as
placeholders that resolve to the values), whatever the config holds: Jinja syntax, quotes, keywords."""

from __future__ import annotations

import doctest
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from netimmutable import adopt as adopt_module
from netimmutable.adopt import verbatim_template
from netimmutable.credentials import find_credentials
from netimmutable.normalize import resolve_secrets
from netimmutable.render import make_environment
from netimmutable.secretref import SECRET_RE

_ENV = make_environment(Path("/nonexistent/templates"))
_PIECES = st.sampled_from(
    [
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        " password ",
        " secret 5 ",
        " md5 ",
        '"',
        "snmp-server community ",
        "snmp-server host ",
        " version 2c ",
        "snmp-server user u g v3 auth sha ",
        " priv aes 128 ",
        "crypto isakmp key ",
        " wpa-psk ascii 0 ",
        " vrrp 1 authentication text ",
        " standby 1 authentication ",
        "\n",
        "x",
        "10.0.0.1",
        " ",
        "neighbor",
        "{{ secret('a') }}",
        "<<secret:zz>>",
        "\t",
        "{",
        "%",
        "#",
    ]
)
_LINE = st.lists(st.one_of(_PIECES, st.text("abc123-_./!$", min_size=1, max_size=6)), max_size=8).map("".join)


def _render(template: str) -> str:
    return _ENV.from_string(template).render()


def test_doctests() -> None:
    assert doctest.testmod(adopt_module).failed == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=6))
def test_renders_the_running_config_exactly(lines: list[str]) -> None:
    running = "\n".join(lines) + "\n"
    adopted = verbatim_template("r1", running)
    rendered = _render(adopted.template)
    assert resolve_secrets(rendered, dict(adopted.secrets)) == running
    # no credential is left: every value the finder (render's check) sees is a placeholder now
    for cred in find_credentials(rendered):
        assert SECRET_RE.fullmatch(rendered[cred.start : cred.end]), (cred, rendered)


def test_one_name_per_value_and_keywords_in_names() -> None:
    running = (
        "enable secret 5 $1$abc\n"
        " neighbor 10.0.0.2 password pw1\n"
        " neighbor 10.0.0.6 password pw1\n"
        ' neighbor 10.0.0.9 password "two words"\n'
        "snmp-server community public RO\n"
    )
    adopted = verbatim_template("edge-1", running)
    assert dict(adopted.secrets) == {
        "edge-1_secret_1": "$1$abc",
        "edge-1_password_1": "pw1",
        "edge-1_password_2": "two words",
        "edge-1_snmp-server-community_1": "public",
    }
    assert (
        _render(adopted.template).splitlines()[3]
        == ' neighbor 10.0.0.9 password "<<secret:edge-1_password_2>>"'
    )
