"""A scripted device for tests of the per-host pipeline (``netimmutable.push``) without a lab: one BGP peer,
a candidate per session (as EOS config sessions and Junos candidates keep one), every call recorded.

Subclasses change what their test is about (a commit that fails, a platform without commit-confirm, a peer
whose prefixes change); ``env`` builds the ``PipelineEnv`` that runs it with secrets left as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from netimmutable.deploy_model import PipelineEnv

__all__ = ["NEW", "OLD", "ScriptedDevice", "env"]

OLD = "hostname r1\nrouter bgp 65001\n neighbor 10.0.0.2 remote-as 65002\n"
NEW = OLD + "ip route 10.9.0.0/24 blackhole\n"


class ScriptedDevice:
    """r1 with one BGP peer (10.0.0.2); commits replace the running config; nothing is ever pending."""

    name = "r1"
    platform = "frr"

    def __init__(self) -> None:
        self.running = OLD
        self.candidate: str | None = None
        self.calls: list[str] = []
        self.prefixes = 4

    def running_config(self) -> str:
        return self.running

    def preflight(self, running: str | None = None) -> None:
        return None  # no platform prerequisites (netimmutable.preflight checks none for frr)

    def facts(self) -> dict[str, Any]:
        return {"hostname": "r1"}

    def interfaces(self) -> dict[str, Any]:
        return {"eth1": {"is_up": True, "is_enabled": True}}

    def peer_up(self) -> bool:
        return True

    def bgp_neighbors(self) -> dict[str, Any]:
        family = {"ipv4": {"received_prefixes": self.prefixes}}
        peer = {"remote_as": 65002, "is_up": self.peer_up(), "is_enabled": True, "address_family": family}
        return {"global": {"peers": {"10.0.0.2": peer}}}

    def compliance(
        self, expectations_yaml: str, label: str = "", known: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        return {"complies": True, "skipped": []}

    def load_replace(self, config: str) -> None:
        self.calls.append("load")
        self.candidate = config

    def compare(self) -> str:
        return "" if self.candidate == self.running else "+ip route 10.9.0.0/24 blackhole"

    def discard(self) -> None:
        self.calls.append("discard")
        self.candidate = None

    def commit(self, message: str, revert_in: int | None) -> None:
        self.calls.append("commit")
        assert self.candidate is not None
        self.running, self.candidate = self.candidate, None

    def confirm(self) -> None:
        self.calls.append("confirm")

    def has_pending_commit(self) -> bool:
        return False

    def rollback_driver(self) -> None:
        self.calls.append("rollback")

    def session_token(self) -> str | None:
        return None  # a pending commit is the device's, not one session's (as on every platform but EOS)

    def adopt_session(self, token: str) -> None:
        self.calls.append(f"adopt {token}")

    def close(self) -> None:
        self.calls.append("close")


def env(device: Any, marked: list[str] | None = None, **settings: Any) -> PipelineEnv:
    """The environment that runs ``device``: secrets as they are, good marks into ``marked``."""
    mark: Callable[[str, str], None] = (
        (lambda host, _r: marked.append(host)) if marked is not None else (lambda _h, _r: None)
    )
    values: dict[str, Any] = {"settle_timeout": 0.0, "settle_interval": 0.0, "commit_message": "test"}
    values.update(settings)
    return PipelineEnv(
        open_device=lambda: device,
        resolve=lambda text: text,
        mask=lambda text: text,
        mark_good=mark,
        **values,
    )
