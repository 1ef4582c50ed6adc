"""Resolving ``<<secret:name>>`` placeholders at push/verify time, and masking values everywhere else.

Providers, in order: the environment (``NETIMMUTABLE_SECRET_<NAME>``, name upper-cased with every other
character as ``_``), the secrets file of the settings (outside the repository, refused unless mode 0600),
and the configured command (``secrets_command`` + the name; its stdout is the value). A missing secret stops
the run before any device is touched. Resolved values are masked back to their placeholder in every diff,
plan, log, report, record and message.

Examples:
    >>> secret_variable("bgp/r1-r2")
    'NETIMMUTABLE_SECRET_BGP_R1_R2'
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from netimmutable.errors import InputError
from netimmutable.fileio import atomic_write_text
from netimmutable.repo import NetworkRepo
from netimmutable.secretforms import encode
from netimmutable.secretref import SECRET_RE
from netimmutable.yamlio import load_yaml

__all__ = [
    "MASK",
    "SecretError",
    "Secrets",
    "secret_names",
    "secret_variable",
    "secrets_file_path",
    "write_secrets",
]

MASK = "********"
_COMMAND_TIMEOUT = 30.0


class SecretError(InputError):
    """A secret could not be resolved, or its source is unsafe."""


def secret_variable(name: str) -> str:
    return "NETIMMUTABLE_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def secret_names(texts: Iterable[str]) -> set[str]:
    """Every secret name referenced by the texts."""
    names: set[str] = set()
    for text in texts:
        names.update(m["name"] for m in SECRET_RE.finditer(text))
    return names


def secrets_file_path(repo: NetworkRepo) -> Path | None:
    """The settings' ``secrets_file`` as an absolute path (None when not set); refused inside the repo."""
    setting = repo.settings.secrets_file
    if not setting:
        return None
    path = Path(setting).expanduser()
    if not path.is_absolute():
        path = repo.root / path
    path = path.resolve()
    if path.is_relative_to(repo.root):
        raise SecretError("the secrets file must live outside the network repository", file=str(path))
    return path


def write_secrets(repo: NetworkRepo, values: Mapping[str, str]) -> Path:
    """Merge ``values`` into the secrets file (created mode 0600, replaced atomically; an existing name keeps
    no other value: it is overwritten). Refuses without a ``secrets_file`` setting."""
    path = secrets_file_path(repo)
    if path is None:
        raise SecretError(
            f"{len(values)} credential(s) found in the running configs and no secrets store to put them in",
            hint="set secrets_file in netimmutable.yaml (a file outside the repository), or pass "
            "--secrets-out to print them once as environment lines",
        )
    current: dict[str, str] = {}
    if path.exists():
        data = load_yaml(path) or {}
        if not isinstance(data, dict):
            raise SecretError("secrets file must map names to values", file=str(path))
        current = {str(k): str(v) for k, v in data.items()}
    current.update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(current, default_flow_style=False, sort_keys=True)
    atomic_write_text(path, text, durable=True)  # mkstemp creates the file 0600; the rename keeps it
    path.chmod(0o600)
    return path


class Secrets:
    """Resolves placeholders for one run; remembers resolved values so it can mask them."""

    def __init__(
        self, repo: NetworkRepo | None, *, file: Path | None = None, command: tuple[str, ...] = ()
    ) -> None:
        """``repo``: the secrets file and command its settings name. Without a repository (a cluster
        worker, ``netimmutable.cluster_deploy``): ``file`` and ``command`` as given, and the environment."""
        self._repo = repo
        self._file = file
        self._command = command
        self._values: dict[str, str] = {}
        self._file_values: Mapping[str, str] | None = None
        self._encoded: dict[tuple[str, str], str] = {}
        """(name, form) -> the value in that form, computed once per run: every text resolved in a run is the
        same (the config pushed is the config checked)."""

    # -- providers -------------------------------------------------------------------------------------
    def _from_file(self, name: str) -> str | None:
        path = secrets_file_path(self._repo) if self._repo is not None else self._file
        if path is None:
            return None
        if self._file_values is None:
            if not path.exists():
                raise SecretError("secrets file not found", file=str(path))
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise SecretError(
                    f"secrets file has mode {mode:04o}; it must be readable by its owner only",
                    file=str(path),
                    hint=f"chmod 600 {path}",
                )
            data = load_yaml(path)
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise SecretError("secrets file must map names to values", file=str(path))
            self._file_values = {str(k): str(v) for k, v in data.items()}
        return self._file_values.get(name)

    def _from_command(self, name: str) -> str | None:
        command = self._repo.settings.secrets_command if self._repo is not None else self._command
        if not command:
            return None
        try:
            done = subprocess.run(
                [*command, name],
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT,
                check=False,
                process_group=0,  # a Ctrl-C is netimmutable's to handle (artifacts.OWN_PROCESS_GROUP)
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SecretError(f"secrets command failed for {name!r}: {type(exc).__name__}") from None
        if done.returncode != 0:
            # stderr is not shown: some tools echo what they were asked for
            raise SecretError(f"secrets command exited {done.returncode} for {name!r}")
        return done.stdout.rstrip("\n") or None

    def value(self, name: str) -> str:
        if name in self._values:
            return self._values[name]
        value = os.environ.get(secret_variable(name)) or self._from_file(name) or self._from_command(name)
        if not value:
            raise SecretError(
                f"secret {name!r} has no value",
                hint=f"set ${secret_variable(name)}, add it to the secrets file, or set secrets_command",
            )
        if "\n" in value or "\r" in value:
            raise SecretError(f"secret {name!r} contains a newline; it would inject configuration lines")
        self._values[name] = value
        return value

    # -- use -------------------------------------------------------------------------------------------
    def require(self, texts: Iterable[str]) -> None:
        """Resolve every secret the texts reference; raises before any device is touched."""
        for name in sorted(secret_names(texts)):
            self.value(name)

    def resolve(self, text: str) -> str:
        """The text with every placeholder replaced by its value in its form (only ever sent to a device)."""
        return SECRET_RE.sub(lambda m: self.encoded(m["name"], m["form"]), text)

    def encoded(self, name: str, form: str | None) -> str:
        """Secret ``name`` in ``form`` (None: plain), the same text for the whole run."""
        if not form or form == "plain":
            return self.value(name)
        key = (name, form)
        if key not in self._encoded:
            self._encoded[key] = encode(self.value(name), form)
        return self._encoded[key]

    def mask(self, text: str) -> str:
        """The text with every resolved value, and every encoding of one this run computed (a type 7 or
        ``$9$`` text is as good as the value), shown as its placeholder (safe to show and store)."""
        shown = [(value, f"<<secret:{name}:{form}>>") for (name, form), value in self._encoded.items()]
        shown += [(value, f"<<secret:{name}>>") for name, value in self._values.items()]
        for value, placeholder in sorted(shown, key=lambda item: -len(item[0])):
            if value:
                text = text.replace(value, placeholder)
        return text

    @property
    def resolved(self) -> Mapping[str, str]:
        return dict(self._values)
