"""The exception tree. Every error netimmutable raises on purpose is a ``NetImmutableError``.

    NetImmutableError                 root; carries host / file / line where known
    ├── InputError                    bad user input: YAML, settings, inventory, templates (exit 1)
    │   ├── SettingsError             netimmutable.yaml
    │   ├── InventoryError            inventory/*.yaml
    │   ├── RenderError               a template failed for a host
    │   └── NotConfirmed              a change window was not confirmed (declined, or no terminal to ask)
    ├── RepoError                     not a network repo, git failures, unknown revisions
    │   ├── ApprovalError             the release is not approved (dirty tree, not on the approval branch)
    │   │   └── UntrustedGoodRef      a host's good ref points at no approved release and no run recorded it
    │   └── CorruptRecords            a record ref or file is not what netimmutable wrote: which, what to do
    ├── LabError                      the local lab could not be built or torn down
    ├── LockHeld                      another run holds the repo or device lock
    │   └── LeaseHeld                 another clone's run holds a device's lease on the records remote
    ├── LeaseError                    the records remote could not be asked or moved (unreachable, refused)
    ├── CorruptJournal                a run journal cannot be read: which file and line, what to do
    ├── JournalWriteFailed            a journal entry could not be made durable (disk full): step not taken
    ├── ClusterError                  the Dask cluster cannot be used (in netimmutable.cluster; exit 1)
    └── DeviceError                   a device step failed (NAPALM exceptions are wrapped into these)
        ├── ConnectError              the device could not be reached / logged in to
        ├── CredentialsError          no credentials for a host
        ├── ConfigRejected            the device refused a candidate or a commit
        ├── CandidateLocked           another session holds the device's configuration lock or session
        ├── PreflightFailed           a platform prerequisite is missing on the device (nothing changed)
        ├── Unsupported               the driver does not offer this step (NotImplementedError)
        └── RollbackFailed            a rollback could not be completed: a person must act

The CLI maps these to exit codes (see ``netimmutable.exitcodes``).
"""

from __future__ import annotations

__all__ = [
    "ApprovalError",
    "CandidateLocked",
    "ConfigRejected",
    "ConnectError",
    "CorruptJournal",
    "CorruptRecords",
    "CredentialsError",
    "DeviceError",
    "InputError",
    "InventoryError",
    "JournalWriteFailed",
    "LabError",
    "LeaseError",
    "LeaseHeld",
    "LockHeld",
    "NetImmutableError",
    "NotConfirmed",
    "PreflightFailed",
    "RenderError",
    "RepoError",
    "RollbackFailed",
    "SettingsError",
    "Unsupported",
    "UntrustedGoodRef",
]


class NetImmutableError(Exception):
    """Root of every error raised on purpose; ``str()`` is the message a person reads."""

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.host = host
        self.file = file
        self.line = line
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [p for p in (where, f"host {self.host}" if self.host else "") if p]
        prefix = f"{', '.join(parts)}: " if parts else ""
        text = f"{prefix}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InputError(NetImmutableError):
    """Bad user input; nothing was written, committed or pushed."""


class SettingsError(InputError):
    """``netimmutable.yaml`` is invalid."""


class InventoryError(InputError):
    """The inventory is invalid."""


class RenderError(InputError):
    """A template failed to render for a host."""


class NotConfirmed(InputError):
    """A ``deploy`` or ``rollback`` was not confirmed; nothing was touched."""


class RepoError(NetImmutableError):
    """The network repository or git failed."""


class ApprovalError(RepoError):
    """The release may not be deployed: not approved, dirty tree or stale snapshots."""


class UntrustedGoodRef(ApprovalError):
    """A host's ``refs/netimmutable/good/<host>`` may not be used as drift baseline or rollback target."""


class CorruptRecords(RepoError):
    """A record ref (``refs/netimmutable/...``) points at a missing object or one of the wrong type, or a
    record file (``good.json``, ``run.json``) cannot be read: nothing is decided from it until a person acts.
    """


class LabError(NetImmutableError):
    """The local lab could not be built, used or removed."""


class LockHeld(NetImmutableError):
    """Another run holds a lock this run needs."""


class LeaseHeld(LockHeld):
    """Another run (of any clone) holds a device's lease on the records remote: who, which run, until when."""


class LeaseError(NetImmutableError):
    """A lease could not be read, taken, renewed or released on the records remote (not held by another)."""


class CorruptJournal(NetImmutableError):
    """A run journal is not what netimmutable wrote: no run can be recovered from it until a person looks."""


class JournalWriteFailed(NetImmutableError):
    """A journal entry could not be written and synced; the step it announced must not be taken."""


class DeviceError(NetImmutableError):
    """A device step failed."""


class ConnectError(DeviceError):
    """The device could not be reached or logged in to."""


class CredentialsError(DeviceError):
    """No credentials are configured for a host."""


class ConfigRejected(DeviceError):
    """The device refused the candidate configuration or the commit."""


class CandidateLocked(DeviceError):
    """Another session holds the device's configuration lock (Junos, IOS-XR) or a config session that
    blocks ours (EOS): nothing was loaded; retry when the other session has finished."""


class PreflightFailed(DeviceError):
    """A platform prerequisite of full replacement is missing on the device (``netimmutable.preflight``);
    the message says what to configure. Found before any change."""


class Unsupported(DeviceError):
    """The device's driver does not offer this step (the platform has no such getter or feature)."""


class RollbackFailed(DeviceError):
    """A rollback did not complete: the device needs a person."""
