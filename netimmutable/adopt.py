"""``netimmutable adopt``: bring running devices in, so the first release is exactly what the network runs.

For each selected host: read its running config (one session, ``get_config``, ``verify.workers`` hosts at a
time; nothing is pushed), turn it into a verbatim per-host template ``templates/adopted/<host>.j2`` (Jinja
syntax in the config escaped, every credential ``credentials.find_credentials`` knows replaced by
``secret("<host>_<keyword>_<n>")``), select it with the host's ``template`` data key, render and commit
one release, then read each device again and record it good at that release only when it still runs
exactly it (drift between the read and the commit is caught: that
host is reported and not recorded). A run record of kind ``adopt`` lists each host (``unchanged``: verified;
``refused``: changed since it was read; ``unreachable``), so the good marks are trusted like a deploy's.

Secret values go only to the secrets store: merged into the settings' ``secrets_file`` (outside the
repository, mode 0600), or, with ``secrets_out``, handed back to the caller to print once as environment
lines; never to git, logs or the report. Hosts missing from the inventory can be added from a Nornir
``hosts.yaml``-style file or a Nornir inventory folder (``add_hosts``; see ``adopt_inventory``).

Examples:
    >>> t = verbatim_template("r1", "hostname r1\\n neighbor 10.0.0.2 password s3cret\\nbanner {{x}}\\n")
    >>> print(t.template, end="")
    hostname r1
     neighbor 10.0.0.2 password {{ secret("r1_password_1") }}
    banner {{ "{{" }}x}}
    >>> t.secrets
    (('r1_password_1', 's3cret'),)
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import git
from nornir.core.inventory import Host

from netimmutable.adopt_inventory import HostsToAdd, add_groups, append_host, read_hosts_to_add, set_data
from netimmutable.artifacts import commit_release, dirty_paths, open_git
from netimmutable.checks import compliance_failures, convergence_diff, expectations_problem
from netimmutable.connections import prepare_hosts
from netimmutable.credentials import find_credentials
from netimmutable.device import Device
from netimmutable.errors import InputError, NetImmutableError
from netimmutable.inventory import load_inventory, select_hosts
from netimmutable.locks import repo_lock
from netimmutable.normalize import mask, resolve_secrets
from netimmutable.records import HostOutcome, HostRecord, Records, RunRecord, new_run_id, utc_now
from netimmutable.render import CONFIG_SUFFIX, EXPECT_SUFFIX, expectation_failures, refresh_snapshots
from netimmutable.repo import ADOPTED_TEMPLATE_DIR, NetworkRepo
from netimmutable.secretref import SECRET_RE
from netimmutable.secrets import write_secrets

__all__ = [
    "ADOPT_OUTCOMES",
    "EXPECTATIONS_STATES",
    "AdoptOptions",
    "AdoptReport",
    "AdoptedHost",
    "VerbatimTemplate",
    "adopt",
    "adopt_schema",
    "report_json",
    "verbatim_template",
]

_JINJA_OPENERS = re.compile(r"\{[{%#]")


@dataclass(frozen=True, slots=True)
class VerbatimTemplate:
    host: str
    template: str
    secrets: tuple[tuple[str, str], ...] = field(repr=False)
    """Secret name -> value found in the running config (never shown)."""


def _escape(text: str) -> str:
    """Plain config text as Jinja that renders it unchanged (``{{``, ``{%``, ``{#`` as string literals)."""
    return _JINJA_OPENERS.sub(lambda m: '{{ "' + m[0] + '" }}', text)


def verbatim_template(host: str, running: str) -> VerbatimTemplate:
    """``running`` as a template rendering it byte for byte, with each credential (``find_credentials``: the
    forms masking knows, NAPALM's sanitize filters, SNMP communities, SNMPv3 keys) from ``secret()``."""
    names: dict[str, str] = {}  # value -> secret name (one name for a value used twice)
    counter: dict[str, int] = {}

    def name_for(keyword: str, value: str) -> str:
        if value not in names:  # "secret" (of "enable secret 5 "), "snmp-server-community", "snmp-auth"
            counter[keyword] = counter.get(keyword, 0) + 1
            names[value] = f"{host}_{keyword}_{counter[keyword]}"
        return names[value]

    pieces: list[str] = []
    at = 0
    for cred in find_credentials(running):
        value = running[cred.start : cred.end]
        if SECRET_RE.fullmatch(value):
            continue  # a placeholder already (renders as it is)
        pieces.append(_escape(running[at : cred.start]))
        pieces.append('{{ secret("' + name_for(cred.keyword, value) + '") }}')
        at = cred.end
    pieces.append(_escape(running[at:]))
    return VerbatimTemplate(host, "".join(pieces), tuple((n, v) for v, n in names.items()))


@dataclass(frozen=True, slots=True)
class AdoptOptions:
    limit: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    add_hosts: Path | None = None
    secrets_out: bool = False
    """Return secret values for the caller to print once, instead of writing the secrets file."""
    message: str | None = None


ExpectationsState = Literal["passed", "failed", "none", "off"]
EXPECTATIONS_STATES: tuple[str, ...] = get_args(ExpectationsState)
ADOPT_OUTCOMES = (HostOutcome.UNCHANGED, HostOutcome.REFUSED, HostOutcome.FAILED, HostOutcome.UNREACHABLE)
"""The outcomes an adopted host can end in (``AdoptedHost.outcome``)."""


@dataclass(frozen=True, slots=True)
class AdoptedHost:
    host: str
    outcome: HostOutcome
    """``unchanged``: adopted and recorded good; ``refused``: changed since it was read (not recorded);
    ``unreachable``: not read, nothing written for it."""
    secrets: int = 0
    message: str = ""
    expectations: ExpectationsState = "none"
    """``passed``: the release's expectations hold on the device; ``failed``: they do not (not recorded
    good); ``none``: the host has no expectations; ``off``: its platform's expectations do not render from
    its data, so adopt set ``expect_template: false`` (``expectations_off`` says why)."""
    expectations_off: str = ""


@dataclass(frozen=True, slots=True)
class AdoptReport:
    run_id: str
    release: str | None
    hosts: tuple[AdoptedHost, ...]
    added: tuple[str, ...] = ()
    """Hosts added to inventory/hosts.yaml from ``add_hosts``."""
    secrets_file: str | None = None
    secret_values: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """With ``secrets_out``: name -> value, for the caller to print once (nowhere else)."""


def report_json(report: AdoptReport) -> dict[str, Any]:
    """``adopt --format json`` (``netimmutable/schemas/adopt-report.schema.json``): never a secret value."""
    return {
        "schema_version": 1,
        "run_id": report.run_id,
        "release": report.release,
        "added": list(report.added),
        "secrets_file": report.secrets_file,
        "hosts": [
            {
                "host": h.host,
                "outcome": str(h.outcome),
                "secrets": h.secrets,
                "expectations": h.expectations,
                "expectations_off": h.expectations_off or None,
                "message": h.message,
            }
            for h in report.hosts
        ],
    }


def adopt_schema() -> dict[str, Any]:
    """The JSON Schema of ``report_json`` output."""
    text = resources.files("netimmutable").joinpath("schemas/adopt-report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True, slots=True)
class _Read:
    running: str
    report: Mapping[str, Any] | None = None
    """The NAPALM compliance report of the expectations asked for (None: none asked)."""


def _read_one(host: Host, expectations: str | None = None) -> _Read | NetImmutableError:
    """The running config (and, given ``expectations``, their compliance report), one session."""
    try:
        with Device.open(host) as device:
            running = device.running_config()
            report = device.compliance(expectations, f"{host.name}{EXPECT_SUFFIX}") if expectations else None
            return _Read(running, report)
    except NetImmutableError as exc:  # a device problem is a result (the host is not adopted), never a crash
        return exc


def _read_running(
    hosts: Sequence[Host], workers: int, expectations: Mapping[str, str | None] | None = None
) -> dict[str, _Read | NetImmutableError]:
    """Each host's running config (or why it could not be read), ``workers`` sessions at a time."""
    wanted = expectations or {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts)))) as pool:
        reads = pool.map(lambda h: _read_one(h, wanted.get(h.name)), hosts)
        return dict(zip((h.name for h in hosts), reads, strict=True))


def _not_adoptable(hosts: Sequence[Host], records: Records) -> dict[str, str]:
    """Host -> why adopt leaves it alone: it has a last-good release, or a template of its own (a host whose
    adoption was not verified keeps its adopted template and no good ref: it may be adopted again)."""
    good = records.last_good_many([h.name for h in hosts])
    why: dict[str, str] = {}
    for host in hosts:
        template = str(host.get("template") or "")
        if good.get(host.name) is not None:
            why[host.name] = "has a last-good release"
        elif template and template != f"{ADOPTED_TEMPLATE_DIR}/{host.name}.j2":
            why[host.name] = f"has a template ({template})"
    return why


def _adoptable(
    hosts: Sequence[Host], records: Records, explicit: bool, added: Mapping[str, Any]
) -> list[Host]:
    """The hosts to adopt: hosts named explicitly must all be adoptable; by default the others are skipped."""
    why = _not_adoptable([h for h in hosts if h.name not in added], records)
    if why and explicit:
        raise InputError(
            "adopt brings in devices netimmutable does not manage yet: "
            + "; ".join(f"{name} {reason}" for name, reason in sorted(why.items())),
            hint="leave them out of --limit/--filter",
        )
    chosen = [h for h in hosts if h.name not in why]
    if not chosen:
        raise InputError("no host to adopt: every selected host is managed already (or has a template)")
    return chosen


def adopt(
    repo: NetworkRepo, options: AdoptOptions, emit: Callable[[str], None] = lambda _m: None
) -> AdoptReport:
    """Adopt the selected hosts (see the module docstring)."""
    run_id, started_utc = new_run_id(), utc_now()
    with repo_lock(repo, run_id, "adopt"), open_git(repo) as gitrepo:
        release_dirs = (repo.settings.inventory_dir, repo.settings.templates_dir, repo.settings.snapshots_dir)
        dirty = [p for p in dirty_paths(repo, gitrepo) if p.split("/", 1)[0] in release_dirs]
        if dirty:
            raise InputError(
                f"uncommitted changes in {', '.join(dirty[:5])}: adopt commits inventory and templates",
                hint="commit or stash them first",
            )
        try:
            return _adopt_locked(repo, gitrepo, options, run_id, started_utc, emit)
        except BaseException:
            # those folders were clean when it started: back to HEAD (the release, once it is committed)
            for folder in release_dirs:
                with contextlib.suppress(git.GitCommandError):  # a folder HEAD does not have yet
                    gitrepo.git.checkout("HEAD", "--", folder)
                with contextlib.suppress(git.GitCommandError):
                    gitrepo.git.clean("-fdq", "--", folder)
            raise


def _adopt_locked(
    repo: NetworkRepo,
    gitrepo: git.Repo,
    options: AdoptOptions,
    run_id: str,
    started_utc: str,
    emit: Callable[[str], None],
) -> AdoptReport:
    hosts_file = repo.root / repo.settings.inventory_dir / "hosts.yaml"
    loaded = load_inventory(repo)
    to_add = HostsToAdd()
    if options.add_hosts:
        known_groups = set(loaded.inventory.groups)
        to_add = read_hosts_to_add(options.add_hosts, {h.name for h in loaded.hosts()}, known_groups)
    added = to_add.hosts
    add_groups(hosts_file.with_name("groups.yaml"), to_add.groups)
    for name, entry in added.items():
        append_host(hosts_file, name, entry, f"{ADOPTED_TEMPLATE_DIR}/{name}.j2")
    if added:
        loaded = load_inventory(repo)
    limit = options.limit or (tuple(added) if added and not options.filters else ())
    hosts = select_hosts(loaded, limit, options.filters)
    records = Records(repo, gitrepo)
    hosts = tuple(_adoptable(hosts, records, bool(options.limit or options.filters), added))
    prepare_hosts(repo, hosts)
    emit(f"reading the running config of {len(hosts)} host(s)")
    running = _read_running(hosts, repo.settings.verify.workers)
    results: dict[str, AdoptedHost] = {}
    templates: dict[str, VerbatimTemplate] = {}
    for host in hosts:
        got = running[host.name]
        if isinstance(got, NetImmutableError):
            results[host.name] = AdoptedHost(host.name, HostOutcome.UNREACHABLE, message=got.message)
        else:
            templates[host.name] = verbatim_template(host.name, got.running)
    values = {name: value for t in templates.values() for name, value in t.secrets}
    secrets_file = None
    if values and not options.secrets_out:
        secrets_file = str(write_secrets(repo, values))  # before git holds anything that needs them
    has_template = {h.name: bool(h.get("template")) for h in hosts}  # adopted before, not verified then
    _write_templates(repo, hosts_file, templates, set(added), has_template)
    off = _expectations_off(repo, hosts_file, [h for h in hosts if h.name in templates])
    release = None
    if templates:
        started = time.monotonic()
        summary = refresh_snapshots(repo)
        message = options.message or f"adopt {len(templates)} host(s): " + ", ".join(sorted(templates))
        committed = commit_release(repo, gitrepo, summary.digests, message, time.monotonic() - started)
        release = committed.release.sha if committed.release else None
        emit(f"committed release {release[:10] if release else '(nothing changed)'}")
    if release is not None:
        results.update(_verify_adopted(repo, records, loaded, templates, values, release, run_id, off))
    ordered = tuple(results[h.name] for h in hosts)
    _record(records, run_id, started_utc, release, ordered)
    return AdoptReport(
        run_id=run_id,
        release=release,
        hosts=ordered,
        added=tuple(added),
        secrets_file=secrets_file,
        secret_values=tuple(sorted(values.items())) if options.secrets_out else (),
    )


def _expectations_off(repo: NetworkRepo, hosts_file: Path, hosts: Sequence[Host]) -> dict[str, str]:
    """Host -> why its platform's expectations template does not render from its data (a device the
    inventory did not describe yet): it gets ``expect_template: false`` until it is templated, so the
    release has no expectations it could never meet. A host naming its own ``expect_template`` keeps it:
    its render error stops the adopt, as it would stop a commit."""
    off: dict[str, str] = {}
    for name, exc in expectation_failures(repo, hosts).items():
        host = next(h for h in hosts if h.name == name)
        if host.get("expect_template"):
            raise exc
        where = f"{exc.file}:{exc.line}" if exc.file and exc.line else (exc.file or "")
        off[name] = f"{where}: {exc.message}" if where else exc.message
        set_data(hosts_file, name, "expect_template", "false")
    return off


def _write_templates(
    repo: NetworkRepo,
    hosts_file: Path,
    templates: Mapping[str, VerbatimTemplate],
    added: set[str],
    has_template: Mapping[str, bool],
) -> None:
    for name, template in templates.items():
        path = repo.templates_dir / ADOPTED_TEMPLATE_DIR / f"{name}.j2"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.template, encoding="utf-8")
        if name not in added and not has_template.get(name):  # added hosts got the key when appended
            set_data(hosts_file, name, "template", f"{ADOPTED_TEMPLATE_DIR}/{name}.j2")


def _record(
    records: Records, run_id: str, started_utc: str, release: str | None, hosts: Sequence[AdoptedHost]
) -> None:
    """The run record first (it is what makes the good marks trusted), then the good marks."""
    run = RunRecord(
        run_id=run_id,
        kind="adopt",
        release=release,
        started_utc=started_utc,
        ended_utc=utc_now(),
        operator=records.operator(),
        hosts=tuple(HostRecord(r.host, r.outcome, r.message, release=release) for r in hosts),
    )
    records.write_run(run, {})
    if release is not None:
        verified = [(r.host, release) for r in hosts if r.outcome is HostOutcome.UNCHANGED]
        records.mark_good_many(verified, run_id)


def _verify_adopted(
    repo: NetworkRepo,
    records: Records,
    loaded: Any,
    templates: Mapping[str, VerbatimTemplate],
    values: Mapping[str, str],
    release: str,
    run_id: str,
    off: Mapping[str, str],
) -> dict[str, AdoptedHost]:
    """Read each adopted device again: it must run exactly the release's artifact (secrets resolved), and
    the release's expectations of it, when it has some, must hold (as ``verify`` would check them). A host
    that runs the release but fails its expectations is read again every ``deploy.settle_interval`` until
    ``deploy.settle_timeout``, as post-checks wait for a device to converge (a BGP session coming up)."""
    hosts = select_hosts(loaded, tuple(templates))
    prepare_hosts(repo, hosts)
    files = records.artifacts_many(
        release, [f"{h.name}{suffix}" for h in hosts for suffix in (CONFIG_SUFFIX, EXPECT_SUFFIX)]
    )  # one git read for the fleet
    expectations = {h.name: files[f"{h.name}{EXPECT_SUFFIX}"] for h in hosts}
    usable = {
        n: e for n, e in expectations.items() if e is not None and expectations_problem(e, False) is None
    }
    extra, workers = repo.settings.ignore_lines, repo.settings.verify.workers
    settle = repo.settings.deploy
    started = time.monotonic()

    def judge(host: Host, got: _Read | NetImmutableError) -> AdoptedHost:
        name = host.name
        artifact = files[f"{name}{CONFIG_SUFFIX}"]
        state: ExpectationsState = (
            "off" if name in off else ("none" if expectations[name] is None else "passed")
        )
        base = AdoptedHost(
            name, HostOutcome.UNCHANGED, len(templates[name].secrets), "", state, off.get(name, "")
        )
        if isinstance(got, NetImmutableError):
            return replace(base, outcome=HostOutcome.UNREACHABLE, message=f"not verified: {got.message}")
        if artifact is None:
            return replace(
                base, outcome=HostOutcome.FAILED, message=f"the release has no {name}{CONFIG_SUFFIX}"
            )
        if convergence_diff(resolve_secrets(artifact, values), got.running, str(host.platform), extra):
            message = (
                f"the device changed after it was read (run {run_id}): not recorded good; "
                f"`netimmutable verify --limit {name}` shows how"
            )
            return replace(base, outcome=HostOutcome.REFUSED, message=message)
        failed = _expectation_failures(expectations[name], got.report, values)
        if failed:
            message = (
                f"runs the release, but its expectations fail (after {time.monotonic() - started:.0f}s): "
                f"{'; '.join(failed[:3])}{f' (+{len(failed) - 3} more)' if len(failed) > 3 else ''}; not "
                f"recorded good: make the host's data say what the device runs (or fix the device), then "
                f"`netimmutable adopt --limit {name}` again"
            )
            return replace(base, outcome=HostOutcome.FAILED, message=message, expectations="failed")
        return replace(base, message="adopted; verified; recorded good")

    again = _read_running(hosts, workers, usable)
    out = {h.name: judge(h, again[h.name]) for h in hosts}
    waiting = [h for h in hosts if out[h.name].expectations == "failed"]
    while waiting and time.monotonic() - started + settle.settle_interval <= settle.settle_timeout:
        time.sleep(settle.settle_interval)
        again = _read_running(waiting, workers, usable)
        out.update({h.name: judge(h, again[h.name]) for h in waiting})
        waiting = [h for h in waiting if out[h.name].expectations == "failed"]
    return out


def _expectation_failures(
    expectations: str | None, report: Mapping[str, Any] | None, values: Mapping[str, str]
) -> tuple[str, ...]:
    """What fails in the release's expectations of a host (masked), as ``verify`` reports it."""
    if expectations is None:
        return ()
    problem = expectations_problem(expectations, False)
    if problem is not None:
        return (problem,)
    return tuple(mask(f, values) for f in compliance_failures(report or {}))
