"""SSH material of the lab, generated at run time under ``<repo>/.netimmutable/lab/`` (never committed).

One client key pair (``id_ed25519``) authorised on every router, one host key per router, and a
``known_hosts`` file listing each router's management address with its host key, so clients verify hosts.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template

from netimmutable.lab.netns import run

__all__ = ["client_key", "host_key", "render_sshd_config", "write_known_hosts"]


def _keygen(path: Path, comment: str) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path


def client_key(lab_dir: Path) -> Path:
    """The lab's client private key; its public half is written to ``authorized_keys``."""
    key = _keygen(lab_dir / "id_ed25519", "netimmutable-lab")
    pub = key.with_suffix(".pub").read_text(encoding="utf-8")
    auth = lab_dir / "authorized_keys"
    auth.write_text(pub, encoding="utf-8")
    auth.chmod(0o600)
    return key


def host_key(router_dir: Path, name: str) -> Path:
    return _keygen(router_dir / "ssh_host_ed25519_key", f"netimmutable-lab-{name}")


def write_known_hosts(path: Path, entries: dict[str, Path]) -> None:
    """``entries``: management address -> host private key path (its ``.pub`` is read)."""
    lines = []
    for address, key in sorted(entries.items()):
        kind, blob = key.with_suffix(".pub").read_text(encoding="utf-8").split()[:2]
        lines.append(f"{address} {kind} {blob}\n")
    path.write_text("".join(lines), encoding="utf-8")


def render_sshd_config(name: str, listen: str, host_key_path: Path, authorized_keys: Path) -> str:
    template = resources.files("netimmutable.lab").joinpath("files/sshd_config").read_text(encoding="utf-8")
    return Template(template).substitute(
        name=name, listen=listen, host_key=str(host_key_path), authorized_keys=str(authorized_keys)
    )
