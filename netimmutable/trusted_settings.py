"""Safety settings from outside the release: the records remote and the length of device leases.

They decide whether, and for how long, other clones are kept off a device, so the release under deployment
must not set them: a release whose ``netimmutable.yaml`` says ``records_remote: none`` would turn its own
leases off. Like the approval branch (``netimmutable.approval``), each is read from, in this order:

1. local, untracked configuration: ``git config netimmutable.recordsRemote NAME`` (``none``: this clone
   works without a records remote, e.g. in an emergency while the remote is down) and
   ``git config netimmutable.leaseSeconds N``;
2. ``records_remote`` / ``deploy.lease_seconds`` of ``netimmutable.yaml`` at the approval branch's tip;
3. the defaults: ``origin`` when the repository has that remote (else none), 120 seconds.

The working tree's ``netimmutable.yaml`` (the checked-out release) is never read for these.

Examples:
    >>> RECORDS_REMOTE_CONFIG, LEASE_SECONDS_CONFIG
    ('netimmutable.recordsRemote', 'netimmutable.leaseSeconds')
"""

from __future__ import annotations

import os
import subprocess

from netimmutable.errors import InputError, LeaseError
from netimmutable.repo import NetworkRepo, git_common_dir
from netimmutable.settings import DeploySettings, Settings

__all__ = ["LEASE_SECONDS_CONFIG", "NO_REMOTE", "RECORDS_REMOTE_CONFIG", "lease_seconds", "records_remote"]

RECORDS_REMOTE_CONFIG = "netimmutable.recordsRemote"
"""Local, untracked override of ``records_remote`` (``git config netimmutable.recordsRemote none``: this
clone works without its records remote, e.g. while the remote is down; it then holds no leases)."""
LEASE_SECONDS_CONFIG = "netimmutable.leaseSeconds"
"""Local, untracked override of ``deploy.lease_seconds``."""
NO_REMOTE = "none"
_LEASE_LIMITS = (2, 86_400)


def _config(repo: NetworkRepo) -> dict[str, str]:
    """This repository's git config entries for remotes' urls and netimmutable's keys (lower-cased keys)."""
    proc = subprocess.run(
        [
            "git",
            "-C",
            str(repo.root),
            "config",
            "--get-regexp",
            r"^(remote\..*\.url|netimmutable\.(recordsremote|leaseseconds))$",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        out[key.lower()] = value.strip()
    return out


def _approved(repo: NetworkRepo) -> tuple[Settings, str] | None:
    from netimmutable.approval import approved_settings  # approval imports artifacts, which are heavy
    from netimmutable.artifacts import open_git

    with open_git(repo) as gitrepo:
        return approved_settings(gitrepo)


def records_remote(repo: NetworkRepo) -> str | None:
    """The records remote (see the module docstring); None without one. Refuses a name that is not a
    remote of this repository."""
    if git_common_dir(repo.root) is None:
        return None
    config = _config(repo)
    remotes = [k.removeprefix("remote.").removesuffix(".url") for k in config if k.startswith("remote.")]
    configured = config.get(RECORDS_REMOTE_CONFIG.lower())
    if configured is not None:
        name, where = configured, f"git config {RECORDS_REMOTE_CONFIG}"
    else:
        approved = _approved(repo)
        name, where = (approved[0].records_remote, approved[1]) if approved is not None else ("", "")
    if name == NO_REMOTE:
        return None
    if not name:
        return "origin" if "origin" in remotes else None
    if name not in remotes:
        raise LeaseError(
            f"records remote {name!r} ({where}) is not a remote of this repository",
            hint=f"`git remote add {name} URL`, or `records_remote: none` (through review) to work without a "
            f"records remote; `git config {RECORDS_REMOTE_CONFIG} none` for this clone alone",
        )
    return name


def lease_seconds(repo: NetworkRepo) -> int:
    """How long a device lease lasts (see the module docstring)."""
    configured = _config(repo).get(LEASE_SECONDS_CONFIG.lower()) if git_common_dir(repo.root) else None
    if configured is not None:
        low, high = _LEASE_LIMITS
        try:
            value = int(configured)
        except ValueError:
            value = 0
        if not low <= value <= high:
            raise InputError(
                f"git config {LEASE_SECONDS_CONFIG} must be a whole number of seconds from {low} to {high}, "
                f"not {configured!r}",
                hint=f"`git config {LEASE_SECONDS_CONFIG} 120`; `git config --unset {LEASE_SECONDS_CONFIG}`",
            )
        return value
    approved = _approved(repo) if git_common_dir(repo.root) else None
    return approved[0].deploy.lease_seconds if approved is not None else DeploySettings().lease_seconds
