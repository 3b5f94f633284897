"""`store-agent doctor`: what is wrong on this PC, one line each, with the fix.

Each check says pass, warn or fail. It never changes anything: the database
is opened without creating or migrating it, printers are only asked for their
status, scanners are opened and closed again. Where the daemon owns a device
(a printer it prints to), what the daemon last saw is reported instead of
competing with it for the device.

Ownership, modes and device groups are judged for one account (``Account``):
the one named with ``--user``; else, when doctor runs as root, the service
user ``store-agent`` install.sh creates (if it exists); else whoever runs
doctor. The groups of the account running doctor are this process's own
(``os.getgroups()``: a group added since login does not count yet); another
account's come from the group database, as its next login or service start
will get them.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import socket
import sqlite3
import stat
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from agent.alerts.rules import disk_free_pct
from agent.oms import make_client
from agent.ops import file_checks
from agent.ops.maintenance import restore_command
from agent.store import sync_state
from agent.store.daemon_lock import daemon_running, lock_path
from agent.store.sync_state import DeviceKind
from config.errors import ConfigError, StoreAgentError
from config.loader import load_settings, resolve_config_path, template_placeholders
from config.settings import Settings
from drivers.printer_transport import PRINTABLE, PrinterStatus, make_transport
from drivers.scanner_serial import open_port
from sync.errors import CredentialsError, NotFoundError, SyncError, TlsError

PASS, WARN, FAIL = "pass", "warn", "fail"
SKEW_WARN_S = 60.0
WAL_WARN_BYTES = 128 * 1024 * 1024  # twice journal_size_limit: checkpoints are not keeping up
DISK_FAIL_PCT = 1.0
SQLITE_HEADER = b"SQLite format 3\x00"
PROBE_ORDER = "store-agent-doctor-probe"  # an order id no OMS has: 404 proves the token works
OMS_TIMEOUT_S = 5.0
SERVICE_USER = "store-agent"  # the system user install.sh creates and the units run as
# Configured device paths under these are device nodes: their group decides who may open them.
DEVICE_DIRS = ("/dev/",)
SYSFS_USB = Path("/sys/bus/usb/devices")  # where a usb printer's vendor:product leads to its node


@dataclass
class Check:
    name: str
    result: str
    detail: str
    fix: str = ""


def run_checks(config_path: str | os.PathLike | None = None, *,
               environ: Mapping[str, str] | None = None,
               disk_usage: Callable = shutil.disk_usage,
               service_user: str | None = None) -> list[Check]:
    """``service_user``: whose ownership and groups to check (see the module doc)."""
    environ = os.environ if environ is None else environ
    path = resolve_config_path(config_path, environ)
    checks: list[Check] = []
    try:
        settings = load_settings(path, environ=environ)
    except ConfigError as exc:
        checks.append(Check("config", FAIL, "; ".join(exc.problems),
                            "fix the keys named above (`store-agent config check` lists each)"))
        if path.exists():
            checks.append(check_config_mode(path, None))
        return checks
    placeholders = template_placeholders(settings)
    if placeholders:
        checks.append(Check("config", FAIL, "; ".join(placeholders),
                            "set this store's values (`store-agent config check` lists each)"))
    else:
        checks.append(Check("config", PASS, f"{path} is valid (store {settings.store_id},"
                                            f" OMS {settings.oms.url})"))
    checks.append(check_config_mode(path, settings))
    checks.append(file_checks.check_secret_files(settings))
    try:
        account: Account | None = service_account(service_user)
    except KeyError:
        account = None
    checks.append(file_checks.check_files_readable(settings, account) if account else
                  _no_such_user("files_readable", service_user))
    checks += check_database(settings, disk_usage)
    checks.append(check_database_permissions(settings, account) if account else
                  _no_such_user("database_permissions", service_user))
    checks.append(check_daemon(settings))
    if not placeholders:  # the template's example host is nobody's OMS
        checks += asyncio.run(check_oms(settings))
    checks += check_devices(settings)
    checks.append(check_device_groups(settings, account) if account else
                  _no_such_user("device_groups", service_user))
    return checks


def summary(checks: list[Check]) -> dict:
    return {"checks": [asdict(c) for c in checks], "ok": all(c.result != FAIL for c in checks)}


# --- permissions ---------------------------------------------------------------
def _loose(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode) & 0o077


def check_config_mode(path: Path, settings: Settings | None) -> Check:
    try:
        holds_token = "token" in tomllib.loads(path.read_text(encoding="utf-8")).get("oms", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        holds_token = False
    secrets = [path] if holds_token else []
    if settings is not None and settings.oms.token_file is not None:
        secrets.append(Path(settings.oms.token_file))
    for secret in secrets:
        try:
            mode = _loose(secret)
        except OSError as exc:
            return Check("config_permissions", FAIL, f"cannot stat {secret}: {exc.strerror}",
                         f"check {secret} exists and is readable by the service user")
        if mode:
            return Check("config_permissions", FAIL,
                         f"{secret} holds the OMS token and is readable by group or others"
                         f" (mode {stat.S_IMODE(secret.stat().st_mode):04o})",
                         f"chmod 600 {secret}")
    if not secrets:
        return Check("config_permissions", PASS, "no token stored in a file (it comes from the"
                                                 " environment)")
    return Check("config_permissions", PASS, f"{', '.join(map(str, secrets))}: private to the owner")


@dataclass(frozen=True)
class Account:
    """Whose access the permission checks judge (see the module doc)."""

    name: str
    uid: int
    gid: int
    groups: frozenset[int]
    this_process: bool  # groups are this process's own, not the group database's

    @property
    def chown_spec(self) -> str:
        return f"{self.name}:{_group_name(self.gid)}"


def service_account(name: str | None = None) -> Account:
    """The account named ``name``, by default as the module doc says; KeyError if unknown."""
    euid = os.geteuid()
    if name is None:
        try:
            entry = pwd.getpwnam(SERVICE_USER) if euid == 0 else pwd.getpwuid(euid)
        except KeyError:
            entry = pwd.getpwuid(euid) if euid == 0 else None
        if entry is None:  # a uid without a passwd entry (containers): still this process
            return Account(str(euid), euid, os.getegid(), _own_groups(), True)
    else:
        entry = pwd.getpwnam(name)
    if entry.pw_uid == euid:
        return Account(entry.pw_name, euid, entry.pw_gid, _own_groups(), True)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid,
                   frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid)), False)


def _own_groups() -> frozenset[int]:
    return frozenset(os.getgroups()) | {os.getegid()}


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _describe(st: os.stat_result) -> str:
    return f"{_user_name(st.st_uid)}:{_group_name(st.st_gid)} {stat.S_IMODE(st.st_mode):04o}"


def _allows(account: Account, st: os.stat_result, want: int) -> bool:
    """Would the kernel let ``account`` have ``want`` (os.R_OK | os.W_OK | os.X_OK) on this inode?"""
    if account.uid == 0:
        return True  # root (CAP_DAC_OVERRIDE) reads and writes whatever the mode
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == account.uid:
        bits = mode >> 6  # the owner's class only, even if group or others would allow more
    elif st.st_gid in account.groups:
        bits = mode >> 3
    else:
        bits = mode
    return bits & want == want


def _no_such_user(name: str, user: str | None) -> Check:
    return Check(name, FAIL, f"no user {user!r} on this PC: cannot check for it",
                 f"name the account store-agent runs as (--user NAME); sudo ./install.sh creates"
                 f" {SERVICE_USER}")


def check_database_permissions(settings: Settings, account: Account) -> Check:
    """The data directory, the database and its -wal and -shm files: writable by the account
    (SQLite writes -shm even to read), and neither writable nor readable by every account."""
    name = "database_permissions"
    db = Path(settings.storage.path)
    directory = db.parent
    if not directory.exists():
        return Check(name, PASS, f"{directory} does not exist yet: nothing to check")
    if not directory.is_dir():
        return Check(name, WARN, f"not checked: {directory} is not a directory (see database_dir)",
                     f"move {directory} out of the way")
    paths = [directory] + [p for p in (db, db.with_name(db.name + "-wal"),
                                       db.with_name(db.name + "-shm")) if p.exists()]
    fails: list[str] = []
    warns: list[str] = []
    chown: list[Path] = []
    chmod: list[Path] = []
    try:
        dir_st = directory.stat()
        for path in paths:
            st = path.stat() if path != directory else dir_st
            is_dir = path == directory
            mode = stat.S_IMODE(st.st_mode)
            writable = _allows(account, st, os.R_OK | os.W_OK | (os.X_OK if is_dir else 0))
            fix_mode = False
            if not writable:
                fails.append(f"{path} ({_describe(st)}): {account.name} cannot"
                             f" {'create files in' if is_dir else 'write'} it")
                fix_mode = st.st_uid == account.uid
            if mode & stat.S_IWOTH:
                fails.append(f"{path} ({_describe(st)}) is writable by every account on this PC")
                fix_mode = True
            elif not is_dir and mode & stat.S_IROTH and dir_st.st_mode & stat.S_IXOTH:
                warns.append(f"{path} ({_describe(st)}) is readable by every account on this PC"
                             " (customers' names and pickup codes)")
                fix_mode = True
            if st.st_uid != account.uid and account.uid != 0 and (fix_mode or not writable):
                chown.append(path)
            if fix_mode:
                chmod.append(path)
    except OSError as exc:
        return Check(name, FAIL, f"cannot stat {exc.filename}: {exc.strerror}",
                     f"check {directory} exists and is readable by {account.name}")
    who = f"{account.name}{' (this process)' if account.this_process else ''}"
    if not fails and not warns:
        listing = ", ".join(f"{p if p == directory else p.name} {_describe(p.stat())}" for p in paths)
        return Check(name, PASS, f"writable by {who}, closed to other accounts: {listing}")
    fix = []
    if chown:
        fix.append(f"sudo chown {account.chown_spec} {' '.join(map(str, chown))}")
    if directory in chmod:
        fix.append(f"sudo chmod 750 {directory}")
    files = [p for p in chmod if p != directory]
    if files:
        fix.append(f"sudo chmod 600 {' '.join(map(str, files))}")
    return Check(name, FAIL if fails else WARN, f"for {who}: " + "; ".join(fails + warns),
                 " && ".join(fix))


def _device_nodes(settings: Settings) -> list[tuple[str, str]]:
    """(device path, what uses it) for every configured device that is a file under DEVICE_DIRS."""
    nodes: list[tuple[str, str]] = []
    for printer in settings.printers:
        path: str | None = None
        if printer.kind == "serial":
            path = printer.address.rpartition("@")[0] if "@" in printer.address else printer.address
        elif printer.kind == "file":
            path = printer.address
        elif printer.kind == "usb":
            path = _usb_node(printer.address)
        if path and "://" not in path:
            nodes.append((path, f"printer:{printer.id}"))
    for station in settings.stations:
        if station.scanner != "keyboard" and "://" not in station.scanner:
            nodes.append((station.scanner, f"scanner:{station.id}"))
    return [(path, what) for path, what in nodes
            if os.path.abspath(path).startswith(tuple(DEVICE_DIRS))]


def _usb_node(address: str) -> str | None:
    """/dev/bus/usb/BBB/DDD of the plugged-in device with this vendor:product (what pyusb opens)."""
    try:
        vendor, product = (int(part, 16) for part in address.split(":"))
        entries = sorted(SYSFS_USB.iterdir())
    except (ValueError, OSError):
        return None
    for entry in entries:
        try:
            if (int((entry / "idVendor").read_text(), 16), int((entry / "idProduct").read_text(), 16)) \
                    == (vendor, product):
                bus, dev = int((entry / "busnum").read_text()), int((entry / "devnum").read_text())
                return f"/dev/bus/usb/{bus:03d}/{dev:03d}"
        except (OSError, ValueError):
            continue
    return None


def check_device_groups(settings: Settings, account: Account) -> Check:
    """Can the account open each configured device node? Its group is read from the node."""
    name = "device_groups"
    nodes = _device_nodes(settings)
    if not nodes:
        return Check(name, PASS, "no device files configured (network or keyboard devices only)")
    present = []
    for path, what in nodes:
        try:
            present.append((path, what, os.stat(path)))
        except OSError:
            continue  # missing: the printer or scanner check says so
    if not present:
        return Check(name, PASS, "no configured device file is present: nothing to check"
                                 " (see the printer and scanner checks)")
    names = ", ".join(f"{path} ({what})" for path, what, _ in present)
    if account.uid == 0:
        return Check(name, PASS, f"{account.name} (uid 0) opens any device whatever its group:"
                                 f" {names}")
    needed: dict[int, list[str]] = {}  # gid -> the devices that need it
    no_group: list[str] = []
    for path, what, st in present:
        if _allows(account, st, os.R_OK | os.W_OK):
            continue
        owner = st.st_uid == account.uid  # then only the owner's bits count, whatever the group
        if not owner and st.st_gid != 0 and stat.S_IMODE(st.st_mode) & 0o060 == 0o060:
            needed.setdefault(st.st_gid, []).append(f"{path} ({what})")
        else:  # no group to join: the device needs a group (and mode) first
            no_group.append(f"{path} ({what}, {_describe(st)})")
    if not needed and not no_group:
        return Check(name, PASS, f"{account.name} can open "
                     + ", ".join(f"{path} ({what}, {_describe(st)})" for path, what, st in present))
    problems, fixes = [], []
    # Joined in the group database but not in this process's groups: only a new login helps.
    stale = set(needed) & set(os.getgrouplist(account.name, account.gid)) if account.this_process else set()
    missing = sorted(_group_name(gid) for gid in needed if gid not in stale)
    for gid, devices in sorted(needed.items()):
        if gid in stale:
            problems.append(f"{account.name} joined group {_group_name(gid)} after this session"
                            f" started, so cannot open {', '.join(devices)} yet")
        else:
            problems.append(f"{account.name} is not in group {_group_name(gid)}, which"
                            f" {', '.join(devices)} need{'s' if len(devices) == 1 else ''}")
    if missing:
        cmd = f"sudo usermod -aG {','.join(missing)} {account.name}"
        if account.name == SERVICE_USER:
            cmd += " && sudo systemctl try-restart store-agent store-agent-ui"
        else:
            cmd += f", then log in again as {account.name}"
        fixes.append(cmd)
    if stale:
        fixes.append(f"log in again as {account.name} (or restart its service) so the new group applies")
    if no_group:
        problems.append(f"{account.name} cannot open {', '.join(no_group)}, and joining its group"
                        " would not help (its mode gives the group nothing, or the group is root,"
                        f" or {account.name} owns it without read and write)")
        fixes.append("give the device a group with a udev rule (GROUP=\"dialout\" or \"lp\","
                     " MODE=\"0660\" in /etc/udev/rules.d/99-store-agent.rules), then"
                     " sudo udevadm control --reload && sudo udevadm trigger")
    return Check(name, FAIL, "; ".join(problems), "; ".join(fixes))


# --- the database ----------------------------------------------------------------
def check_database(settings: Settings, disk_usage: Callable) -> list[Check]:
    db = Path(settings.storage.path)
    directory = db.parent
    out = [_check_writable(directory)]
    if not db.exists():
        out.append(Check("database", WARN, f"{db} does not exist yet",
                         "start the daemon (store-agent run) or any command: it creates the database"))
    else:
        out.append(_check_integrity(db, settings))
        wal = db.with_name(db.name + "-wal")
        size = wal.stat().st_size if wal.exists() else 0
        if size > WAL_WARN_BYTES:
            out.append(Check("wal_size", WARN, f"{wal} is {size / 2**20:.0f} MiB",
                             "a long-running reader pins it; restart the UI and the daemon"
                             " (the daemon checkpoints every 30 s)"))
        else:
            out.append(Check("wal_size", PASS, f"write-ahead log {size / 2**20:.1f} MiB"))
    try:
        free = disk_free_pct(directory if directory.exists() else Path("/"), disk_usage)
    except OSError as exc:
        out.append(Check("disk_free", WARN, f"cannot measure free space of {directory}:"
                                            f" {exc.strerror}", "check the directory exists"))
        return out
    limit = settings.alerts.disk_free_pct
    result = FAIL if free < DISK_FAIL_PCT else WARN if free < limit else PASS
    out.append(Check("disk_free", result, f"{free:.1f} % free on the file system of {directory}"
                     f" (warning under {limit:g} %)",
                     "" if result == PASS else "free space: delete old files or grow the disk;"
                     f" old backups are in {settings.storage.backup_dir or directory / 'backups'}"))
    return out


def _check_writable(directory: Path) -> Check:
    fix = f"chown store-agent: {directory} && chmod 700 {directory}"
    if not directory.exists():
        parent = next((p for p in directory.parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK):
            return Check("database_dir", PASS, f"{directory} will be created")
        return Check("database_dir", FAIL, f"{directory} does not exist and {parent} is not writable",
                     f"mkdir -p {directory} && {fix}")
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("database_dir", FAIL, f"cannot create files in {directory}: {exc.strerror}", fix)
    return Check("database_dir", PASS, f"{directory} is writable")


def _check_integrity(db: Path, settings: Settings) -> Check:
    fix = restore_command(settings)
    try:
        # A file that is not a database is judged by its header alone: a read-write
        # open of it deletes its -wal on close, which restore means to keep.
        with open(db, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
        if header != SQLITE_HEADER:
            return Check("database", FAIL, f"{db} is damaged or unreadable: its first bytes are"
                         " not a SQLite header", fix)
        # With a -wal and -shm present: read-only, so that closing the last connection
        # never checkpoints or deletes a log that may hold what restore must keep. Without
        # them, read-write: a read-only open would leave both behind, owned by whoever ran
        # doctor (root), and the service could not write them. No pragmas that write.
        logs = all(db.with_name(db.name + s).exists() for s in ("-wal", "-shm"))
        conn = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode={'ro' if logs else 'rw'}",
                               uri=True, timeout=10)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        return Check("database", FAIL, f"{db} is damaged or unreadable: {exc}", fix)
    result = "; ".join(r[0] for r in rows[:3])
    if result != "ok":
        return Check("database", FAIL, f"{db} is damaged: quick_check found {result}", fix)
    return Check("database", PASS, f"{db}: quick_check ok ({db.stat().st_size / 2**20:.1f} MiB)")


def check_daemon(settings: Settings) -> Check:
    # The daemon holds an flock on agent.db.daemon.lock while it runs (agent/store/daemon_lock.py):
    # a lock file nobody holds is a daemon that stopped or crashed.
    db = Path(settings.storage.path)
    try:
        running = daemon_running(db)
    except OSError as exc:
        return Check("daemon", WARN, f"cannot tell whether the daemon runs: {lock_path(db)}:"
                                     f" {exc.strerror}",
                     f"run doctor as root or as the service user: sudo -u {SERVICE_USER} store-agent doctor")
    if running:
        return Check("daemon", PASS, "the daemon is running")
    return Check("daemon", WARN, "the daemon is not running: nothing syncs with the OMS",
                 "sudo systemctl start store-agent (or store-agent run)")


# --- the OMS -------------------------------------------------------------------------
async def check_oms(settings: Settings, *, timeout_s: float = OMS_TIMEOUT_S) -> list[Check]:
    url = settings.oms.url
    try:
        client = make_client(settings)
    except StoreAgentError as exc:
        return [Check("oms_reachable", FAIL, str(exc), "fix the [oms] settings named above")]
    reachable = credentials = None
    async with client:
        try:
            await client.get_order(PROBE_ORDER, timeout_s=min(timeout_s, settings.oms.timeout_s))
            credentials = Check("oms_credentials", PASS, "the OMS accepted this store's token")
        except NotFoundError:
            credentials = Check("oms_credentials", PASS, "the OMS accepted this store's token")
        except CredentialsError as exc:
            credentials = Check("oms_credentials", FAIL, f"the OMS refused the token ({exc.status})",
                                "set the token the OMS issued for this store in oms.token or"
                                " oms.token_file, then restart the daemon")
        except TlsError as exc:
            reachable = Check("oms_reachable", FAIL, str(exc),
                              "set oms.ca_bundle to the CA that signs the OMS certificate,"
                              " or check the PC's clock")
        except SyncError as exc:
            if exc.status is None:
                host = urlsplit(url).hostname or url
                reachable = Check("oms_reachable", FAIL, f"{url}: {exc}",
                                  f"check the network, DNS and firewall towards {host}"
                                  " and the oms.url setting")
            else:  # it answered, just not as the contract says: reachable all the same
                credentials = Check("oms_credentials", WARN, f"unexpected answer: {exc}",
                                    "check oms.url points at the Store Sync API")
        server_date, received_at = client.last_server_date, client.last_response_at
    if reachable is not None:
        return [reachable, Check("oms_credentials", WARN, "not checked: the OMS did not answer",
                                 "fix reachability first")]
    return [Check("oms_reachable", PASS, f"{url} answers"), credentials,
            _skew(server_date, received_at)]


def _skew(server_date: datetime | None, received_at: datetime | None) -> Check:
    if server_date is None or received_at is None:
        return Check("clock_skew", WARN, "the OMS sent no Date header: skew not measured",
                     "make sure the PC syncs its clock (timedatectl status)")
    if server_date.tzinfo is None:
        server_date = server_date.replace(tzinfo=UTC)
    skew = (received_at - server_date).total_seconds()
    # The Date header has 1 s resolution and the request took some time: under 60 s is noise.
    if abs(skew) > SKEW_WARN_S:
        side = "ahead of" if skew > 0 else "behind"
        return Check("clock_skew", WARN, f"this PC's clock is {abs(skew):.0f} s {side} the OMS's",
                     "enable time sync: timedatectl set-ntp true (hold times and staleness use it)")
    return Check("clock_skew", PASS, f"clock within {abs(skew):.0f} s of the OMS")


# --- devices -------------------------------------------------------------------------
def check_devices(settings: Settings, *, daemon_states: dict | None = None) -> list[Check]:
    out = []
    try:
        daemon_up = daemon_running(Path(settings.storage.path))
    except OSError:  # the daemon check says why
        daemon_up = False
    states = daemon_states if daemon_states is not None else (
        _daemon_printer_states(settings) if daemon_up else {})
    for printer in settings.printers:
        out.append(_check_printer(printer, states.get(printer.id)))
    for station in settings.stations:
        out.append(_check_scanner(station.id, station.scanner))
    return out


def _daemon_printer_states(settings: Settings) -> dict:
    db = Path(settings.storage.path)
    try:
        conn = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=rw", uri=True, timeout=5)
        try:
            return sync_state.device_states(conn, DeviceKind.PRINTER)
        finally:
            conn.close()
    except (sqlite3.Error, ValueError):
        return {}


def _printer_fix(status: str, kind: str) -> str:
    return {
        "paper_out": "load a paper roll",
        "paper_near_end": "change the paper roll soon",
        "cover_open": "close the printer cover",
        "offline": "clear the printer's error (cutter jam, feed button) or power-cycle it",
        "not_answering": "power-cycle the printer; check the cable and that nothing else holds it",
    }.get(status, "check the cable or network and the address in [[printers]]"
          + ("; add the service user to group dialout (serial) or lp" if kind != "network" else ""))


def _check_printer(printer, seen: dict | None) -> Check:
    name = f"printer:{printer.id}"
    if seen and seen.get("status") not in (None, "unknown"):
        status, how = seen["status"], f"as seen by the daemon since {seen.get('since')}"
    else:
        try:
            status = make_transport(printer.kind, printer.address).status().value
        except StoreAgentError as exc:
            return Check(name, FAIL, f"{printer.address}: {exc}", "fix the printer's kind and address")
        how = "asked just now"
    if status == PrinterStatus.READY:
        return Check(name, PASS, f"{printer.address} ready ({how})")
    result = WARN if status in PRINTABLE else FAIL
    return Check(name, result, f"{printer.address}: {status.replace('_', ' ')} ({how})",
                 _printer_fix(status, printer.kind))


def _check_scanner(station_id: str, scanner: str) -> Check:
    name = f"scanner:{station_id}"
    if scanner == "keyboard":
        return Check(name, PASS, "keyboard-wedge scanner: nothing to check")
    if "://" in scanner:
        parts = urlsplit(scanner)
        try:
            socket.create_connection((parts.hostname, parts.port), timeout=2).close()
        except (OSError, TypeError, ValueError) as exc:
            return Check(name, FAIL, f"{scanner}: cannot connect ({exc})",
                         "check the scanner bridge is on and the URL in [[stations]]")
        return Check(name, PASS, f"{scanner} answers")
    if not os.path.exists(scanner):
        return Check(name, FAIL, f"{scanner} is not present",
                     "plug the scanner in; check the udev rule that names it and the path in"
                     " [[stations]]")
    try:
        open_port(scanner, exclusive=False).close()
    except StoreAgentError as exc:
        return Check(name, FAIL, f"{scanner}: {exc}",
                     "add the service user to group dialout: usermod -aG dialout store-agent")
    return Check(name, PASS, f"{scanner} opens")
