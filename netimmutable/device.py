"""One NAPALM session to one device, with every vendor exception wrapped at this boundary.

Sessions are opened through nornir_napalm's ``napalm`` connection plugin, so the driver is picked by the
host's platform (or the ``driver`` of connections.yaml): any installed NAPALM driver, or the package's own
``frr`` and ``sim``.

Opening a session is retried: devices with a full session table or a slow AAA server refuse or time out a
login now and then, and a change window must not report that as a failed device. A ``ConnectError`` is
retried up to ``CONNECT_ATTEMPTS`` times in all, waiting ``CONNECT_BACKOFF`` seconds, doubled after each
attempt, with jitter (so parallel workers do not retry in step). Nothing else is retried: missing
credentials (``CredentialsError``), a refused config (``ConfigRejected``) and other device errors fail at
once.

Examples:
    >>> [round(backoff_delay(n, 0.5, jitter=1.0), 2) for n in (1, 2, 3)]
    [0.5, 1.0, 2.0]
    >>> 0.25 <= backoff_delay(1, 0.5) <= 0.5
    True
"""

from __future__ import annotations

import copy
import logging
import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from napalm.base import exceptions as napalm_exc
from napalm.base import validate
from nornir.core.configuration import Config
from nornir.core.inventory import ConnectionOptions, Host

from netimmutable.connections import CONNECTION, KEYLESS_DRIVERS, driver_name
from netimmutable.drivers.capabilities import capability, replace_format_problem, replace_load
from netimmutable.drivers.unsupported import known_unsupported, remember
from netimmutable.errors import (
    CandidateLocked,
    ConfigRejected,
    ConnectError,
    CredentialsError,
    DeviceError,
    InputError,
    Unsupported,
)
from netimmutable.preflight import preflight
from netimmutable.yamlio import load_plain_yaml_text

_log = logging.getLogger(__name__)

__all__ = ["CONNECT_ATTEMPTS", "CONNECT_BACKOFF", "Device", "backoff_delay"]

CONNECT_ATTEMPTS = 3
"""Connection attempts in all when opening a session (session limits, slow AAA)."""
CONNECT_BACKOFF = 0.5
"""Seconds before the first retry; doubled before each further one, then jittered."""

T = TypeVar("T")
_CONFIG = Config()
_CONNECT_ERRORS = (
    napalm_exc.ConnectionException,
    napalm_exc.ConnectionClosedException,
    OSError,
    EOFError,
    socket.timeout,
)
_TRANSPORT_ERRORS = frozenset(
    {
        "pyeapi.eapilib.ConnectionError",  # eos: eAPI unreachable, refused, timed out
        "ncclient.transport.errors.TransportError",  # junos, iosxr_netconf: NETCONF session lost
        "paramiko.ssh_exception.SSHException",  # ios, nxos_ssh, eos over ssh (netmiko timeouts too)
    }
)
"""Vendor libraries' connection failures (by class, matched along the MRO so nothing is imported for it);
authentication failures are not among them: retrying a refused password can lock the account."""
_AUTH_ERRORS = frozenset({"paramiko.ssh_exception.AuthenticationException"})


_LOCK_ERRORS = frozenset(
    {
        "napalm.base.exceptions.LockError",  # junos: <lock-configuration> refused (PyEZ LockError)
        "napalm.base.exceptions.SessionLockedException",  # eos: another config session is pending
    }
)
_LOCK_TAGS = frozenset({"lock-denied", "in-use"})
"""RFC 6241 appendix A error-tags of a lock held by another session (ncclient ``RPCError.tag``:
iosxr_netconf's ``<lock>`` at load is outside the driver's own exception handling)."""
_REFUSAL_ERRORS = frozenset({"napalm.nxapi_plumbing.errors.NXAPICommandError"})
"""Vendor errors that mean "the device refused it" when raised by a step that changes the device (nxos:
``rollback running-config file candidate_config.txt`` failing atomically raises this, not
``ReplaceConfigException``); raised by a getter they stay plain device errors."""
_CHANGING_STEPS = frozenset({"load_replace_candidate", "commit_config", "rollback"})


def _names(exc: BaseException) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}


def _is_transport_error(exc: BaseException) -> bool:
    names = _names(exc)
    return bool(names & _TRANSPORT_ERRORS) and not names & _AUTH_ERRORS


def _is_lock_error(exc: BaseException) -> bool:
    return bool(_names(exc) & _LOCK_ERRORS) or getattr(exc, "tag", None) in _LOCK_TAGS


_REJECT_ERRORS = (
    napalm_exc.ReplaceConfigException,
    napalm_exc.MergeConfigException,
    napalm_exc.CommitError,
    napalm_exc.CommitConfirmException,
)


@contextmanager
def _wrapped(host: str, step: str) -> Iterator[None]:
    try:
        yield
    except DeviceError:
        raise
    except Exception as exc:  # any driver failure becomes a located DeviceError of the right kind
        raise _wrap(host, step, exc) from exc


def _wrap(host: str, step: str, exc: Exception) -> DeviceError:
    """The netimmutable error for a driver's exception ``exc`` raised by ``step``."""
    if _is_lock_error(exc):
        return CandidateLocked(f"{step}: another session holds the configuration lock: {exc}", host=host)
    if isinstance(exc, _REJECT_ERRORS) or (step in _CHANGING_STEPS and _names(exc) & _REFUSAL_ERRORS):
        return ConfigRejected(f"{step}: device refused: {exc}", host=host)
    if isinstance(exc, _CONNECT_ERRORS) or (
        not isinstance(exc, napalm_exc.NapalmException) and _is_transport_error(exc)
    ):
        return ConnectError(f"{step}: connection failed: {type(exc).__name__}: {exc}", host=host)
    if isinstance(exc, NotImplementedError):
        return Unsupported(f"{step}: not supported by this driver", host=host)
    return DeviceError(f"{step}: {type(exc).__name__}: {exc}", host=host)


def backoff_delay(attempt: int, base: float, jitter: float | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): ``base * 2**(attempt-1)`` times a jitter
    factor in [0.5, 1] (random unless given)."""
    factor = random.uniform(0.5, 1.0) if jitter is None else jitter  # noqa: S311 - not cryptographic
    return float(base * 2 ** (attempt - 1) * factor)


def _drop_connection(host: Host) -> None:
    """Close the host's session if it has one; a connection that is already gone is not an error."""
    if CONNECTION in host.connections:
        try:
            host.close_connection(CONNECTION)
        except Exception:  # noqa: BLE001 - closing a dead session must not mask the real outcome
            host.connections.pop(CONNECTION, None)


class Device:
    """An open NAPALM session; use ``with Device.open(host) as dev:``."""

    def __init__(self, host: Host, driver: Any, params: ConnectionOptions | None = None) -> None:
        self.host = host
        self.name = host.name
        self.platform = str(host.platform)
        params = params or host.get_connection_parameters(CONNECTION)
        self.driver_name = driver_name(host, params)
        self._driver = driver
        extras = params.extras or {}
        self.optional_args: Mapping[str, Any] = dict(extras.get("optional_args") or {})
        self._holds_pending = False  # a pending commit bound to this driver object (``session_token``)
        self._parked: str | None = None  # that commit's session while a candidate is loaded beside it

    @classmethod
    def open(
        cls,
        host: Host,
        *,
        attempts: int = CONNECT_ATTEMPTS,
        backoff: float = CONNECT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Device:
        """Open a session, retrying connection failures (see the module docstring); raises the last
        ``ConnectError`` (its message says how many attempts were made) or ``CredentialsError`` at once."""
        params = host.get_connection_parameters(CONNECTION)
        optional_args = (params.extras or {}).get("optional_args") or {}
        driver = str(params.platform or host.platform)
        if not params.password and driver not in KEYLESS_DRIVERS and not optional_args.get("key_file"):
            raise CredentialsError(
                "no credentials: set NETIMMUTABLE_PASSWORD (or NETIMMUTABLE_PASSWORD_<HOST>), "
                "or a key_file in .netimmutable/connections.yaml",
                host=host.name,
            )
        attempts = max(1, attempts)
        for attempt in range(1, attempts + 1):
            _drop_connection(host)
            try:
                with _wrapped(host.name, "connect"):  # the parameters just read: nornir merges them again
                    host.open_connection(
                        CONNECTION,
                        configuration=_CONFIG,
                        hostname=params.hostname,
                        username=params.username,
                        password=params.password,
                        port=params.port,
                        platform=params.platform,
                        extras=params.extras,
                        default_to_host_attributes=False,
                    )
                break
            except ConnectError as exc:
                if attempt >= attempts:
                    if attempts > 1:
                        raise ConnectError(
                            f"{exc.message} (after {attempts} attempts)", host=host.name
                        ) from exc.__cause__
                    raise
                sleep(backoff_delay(attempt, backoff))
        return cls(host, host.connections[CONNECTION].connection, params)

    def close(self) -> None:
        """Close the session; a connection that is already gone is not an error.

        A pending commit bound to this driver object (EOS: its config session) is left pending, to be
        confirmed or cancelled by a later session that adopts it (``adopt_session``) or by the device's own
        timer: the driver's own close would abort it (``discard_config``) at once."""
        attr = capability(self.driver_name).session_attr
        if self._parked is not None:  # a candidate session beside the pending one: abort it, keep that one
            try:
                self.discard()
            except DeviceError as exc:
                _log.warning(
                    "%s: the candidate session beside the pending commit: %s", self.name, exc.message
                )
                self._unpark()
        if self._holds_pending and attr:
            setattr(self._driver, attr, None)
        _drop_connection(self.host)

    def session_token(self) -> str | None:
        """The device-side session a commit of this driver object belongs to (EOS: ``napalm_<n>``), for
        platforms whose confirm and rollback only work from that session; None elsewhere. Journaled with the
        commit so that a reconnect or ``recover`` can take the pending commit over."""
        if self._parked is not None:  # the pending commit's session, put aside while a candidate is loaded
            return self._parked
        attr = capability(self.driver_name).session_attr
        value = getattr(self._driver, attr, None) if attr else None
        return value if isinstance(value, str) and value else None

    def adopt_session(self, token: str) -> None:
        """Take over the pending commit of session ``token`` (see ``session_token``): confirm and rollback
        then act on it. The device still refuses them when ``token`` is not the pending session."""
        attr = capability(self.driver_name).session_attr
        if attr and token:
            setattr(self._driver, attr, token)
            self._holds_pending = True

    def __enter__(self) -> Device:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, step: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if known_unsupported(self.driver_name, step):
            raise Unsupported(
                f"{step}: not supported by this driver (found earlier in this run)", host=self.name
            )
        try:
            with _wrapped(self.name, step):
                return func(*args, **kwargs)
        except Unsupported:
            remember(self.driver_name, step)
            raise

    def preflight(self, running: str | None = None) -> None:
        """The platform's prerequisites of a full replacement (``netimmutable.preflight``): raises
        ``PreflightFailed`` or ``CandidateLocked`` naming what to do; changes nothing. ``running``: the
        running config read a moment ago, if any (saves a read)."""
        preflight(self, running)

    def probe_config_lock(self) -> None:
        """Raise ``CandidateLocked`` when our load would find the configuration locked by another session;
        leaves the lock as it found it. Uses the drivers' own lock steps, so the probe sees what the load
        will: junos and iosxr_netconf take and release the candidate lock (nothing to do when the driver
        holds it since connect, or does not lock: ``config_lock``, ``lock_disable``, ``config_private``);
        eos lists the config sessions and finds another pending one (its ``_lock`` changes nothing)."""
        platform = capability(self.driver_name).platform
        drv = self._driver
        if any(getattr(drv, flag, False) for flag in ("locked", "lock_disable", "config_private")):
            return
        lock, unlock = getattr(drv, "_lock", None), getattr(drv, "_unlock", None)
        if getattr(drv, "session_config_lock", False) or not callable(lock):
            return  # locked since connect, or a driver version without the step: nothing to probe
        try:
            self._call("preflight: candidate lock", lock)
            if platform in ("junos", "iosxr_netconf") and callable(unlock):
                self._call("preflight: candidate unlock", unlock)
        except CandidateLocked as exc:
            what = (
                "another config session is pending on the device (`show configuration sessions`)"
                if platform == "eos"
                else "another session holds the candidate lock or left uncommitted changes in it"
            )
            raise CandidateLocked(
                f"pre-flight ({platform}): {what}; nothing was changed: {exc.message}",
                host=self.name,
                hint="wait for the other session to commit or discard, or clear it on the device, then retry",
            ) from exc

    def running_config(self) -> str:
        result = self._call("get_config", self._driver.get_config, retrieve="running")
        return str(result["running"])

    def load_replace(self, config: str) -> None:
        """Load ``config`` as a full-replacement candidate.

        A Junos artifact of ``set`` commands is loaded as ``delete`` + the commands (``replace_load``); an
        artifact in a format the platform cannot replace with is refused before the driver is called, so no
        lock is taken. A load the device refuses is discarded at once: drivers that lock at load
        (iosxr_netconf) would otherwise keep the lock, and the candidate, for as long as the session lives.
        Raises ``CandidateLocked`` when another session holds the lock (nothing loaded).

        While a pending commit is bound to this driver's session (EOS), the candidate goes into a new
        session: EOS refuses to enter a committed session again, and discarding it there would abort the
        pending commit; ``discard`` puts the pending commit's session back."""
        problem = replace_format_problem(self.driver_name, config)
        if problem:
            raise ConfigRejected(f"load_replace_candidate: {problem}; nothing was loaded", host=self.name)
        method, text = replace_load(self.driver_name, config)
        attr = capability(self.driver_name).session_attr
        if attr and self._holds_pending and self._parked is None:
            self._parked = self.session_token()
            setattr(self._driver, attr, None)
        try:
            self._call("load_replace_candidate", getattr(self._driver, method), config=text)
        except (ConnectError, CandidateLocked, Unsupported):
            self._unpark()  # the pending commit's session is this driver's again
            raise  # no session left, or nothing of ours loaded or locked
        except DeviceError as exc:
            try:
                self.discard()
            except DeviceError as left:
                raise type(exc)(
                    f"{exc.message}; discarding the refused candidate failed too ({left.message}): the "
                    "configuration lock may still be held until this session ends",
                    host=self.name,
                ) from exc
            raise

    def compare(self) -> str:
        return str(self._call("compare_config", self._driver.compare_config) or "")

    def discard(self) -> None:
        try:
            self._call("discard_config", self._driver.discard_config)
        finally:
            self._unpark()

    def _unpark(self) -> None:
        """Give the driver back the pending commit's session put aside by ``load_replace`` (EOS)."""
        if self._parked is not None:
            setattr(self._driver, capability(self.driver_name).session_attr, self._parked)
            self._parked = None

    def commit(self, message: str, revert_in: int | None) -> None:
        """Commit the candidate, passing only what the platform's capability allows: the message where the
        device stores one (other drivers raise ``NotImplementedError`` for any message), the revert timer
        where the device has one (``revert_in`` is already in the platform's unit, see ``revert_in_for``)."""
        cap = capability(self.driver_name)
        kwargs: dict[str, Any] = {}
        if message and cap.commit_message:
            kwargs["message"] = message
        if revert_in:
            if not cap.revert_timer:
                raise Unsupported(
                    f"commit_config: {self.driver_name} has no device-side revert timer (revert_in)",
                    host=self.name,
                )
            kwargs["revert_in"] = revert_in
        self._call("commit_config", self._driver.commit_config, **kwargs)
        self._holds_pending = bool(revert_in)

    @property
    def commit_notes(self) -> tuple[str, ...]:
        """What the driver's last commit or rollback had to do beyond its usual path (a fallback), where
        the driver says (the ``frr`` driver's ``commit_notes``); () otherwise."""
        notes = getattr(self._driver, "commit_notes", ())
        return tuple(str(note) for note in notes) if isinstance(notes, tuple | list) else ()

    def confirm(self) -> None:
        self._call("confirm_commit", self._driver.confirm_commit)
        self._holds_pending = False

    def has_pending_commit(self) -> bool:
        return bool(self._call("has_pending_commit", self._driver.has_pending_commit))

    def rollback_driver(self) -> None:
        self._call("rollback", self._driver.rollback)
        self._holds_pending = False

    def read_together(self, getters: Sequence[str]) -> None:
        """``getters`` are about to be asked one after the other (a check round): a driver that can read what
        they need at once (the ``frr`` driver's ``read_together``) does so now, and each of them answers
        from that read once, within a fraction of a second; other drivers are not asked (each getter reads
        the device when called, as always)."""
        read = getattr(self._driver, "read_together", None)
        if callable(read):
            self._call("read_together", read, tuple(getters))

    def facts(self) -> dict[str, Any]:
        return dict(self._call("get_facts", self._driver.get_facts))

    def interfaces(self) -> dict[str, Any]:
        return dict(self._call("get_interfaces", self._driver.get_interfaces))

    def bgp_neighbors(self) -> dict[str, Any]:
        return dict(self._call("get_bgp_neighbors", self._driver.get_bgp_neighbors))

    def bgp_neighbors_detail(self) -> dict[str, Any]:
        return dict(self._call("get_bgp_neighbors_detail", self._driver.get_bgp_neighbors_detail))

    def compliance(
        self,
        expectations_yaml: str,
        label: str = "expectations",
        known: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """NAPALM compliance_report of an expectations document (the ``.expect.yaml`` text).

        ``known``: getter results read a moment ago in the same check round (e.g. ``get_bgp_neighbors``);
        the report uses them instead of asking the device again. Other getters are called as usual.
        """
        plain = load_plain_yaml_text(expectations_yaml, label)
        if not isinstance(plain, list) or not plain:
            raise InputError(
                "expectations must be a non-empty list of getter checks", file=label, host=self.name
            )
        if not known:
            return dict(
                self._call("compliance_report", self._driver.compliance_report, validation_source=plain)
            )
        getters = _KnownGetters(self._driver, known)
        return dict(
            self._call("compliance_report", validate.compliance_report, getters, validation_source=plain)
        )


class _KnownGetters:
    """The driver, as NAPALM's compliance report sees it, answering some getters from results in hand."""

    def __init__(self, driver: Any, known: Mapping[str, Mapping[str, Any]]) -> None:
        self._driver = driver
        self._known = known

    def __getattr__(self, name: str) -> Any:
        result = self._known.get(name)
        if result is None:
            return getattr(self._driver, name)

        def getter(**kwargs: Any) -> Any:
            if kwargs:  # a getter with arguments asks for something else: ask the device
                return getattr(self._driver, name)(**kwargs)
            return copy.deepcopy(result)

        return getter
