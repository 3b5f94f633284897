"""Who may read and write what: the config file's mode, the database's ownership and modes,
and the groups that open the configured devices."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from agent.ops.checks import FAIL, PASS, WARN, Check
from agent.ops.checks.accounts import SERVICE_USER, Account, account_allows, describe_inode, group_name
from config.settings import Settings

# Configured device paths under these are device nodes: their group decides who may open them.
DEVICE_DIRS = ("/dev/",)


SYSFS_USB = Path("/sys/bus/usb/devices")  # where a usb printer's vendor:product leads to its node


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
            writable = account_allows(account, st, os.R_OK | os.W_OK | (os.X_OK if is_dir else 0))
            fix_mode = False
            if not writable:
                fails.append(f"{path} ({describe_inode(st)}): {account.name} cannot"
                             f" {'create files in' if is_dir else 'write'} it")
                fix_mode = st.st_uid == account.uid
            if mode & stat.S_IWOTH:
                fails.append(f"{path} ({describe_inode(st)}) is writable by every account on this PC")
                fix_mode = True
            elif not is_dir and mode & stat.S_IROTH and dir_st.st_mode & stat.S_IXOTH:
                warns.append(f"{path} ({describe_inode(st)}) is readable by every account on this PC"
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
        listing = ", ".join(f"{p if p == directory else p.name} {describe_inode(p.stat())}" for p in paths)
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
            path = usb_node(printer.address)
        if path and "://" not in path:
            nodes.append((path, f"printer:{printer.id}"))
    for station in settings.stations:
        if station.scanner != "keyboard" and "://" not in station.scanner:
            nodes.append((station.scanner, f"scanner:{station.id}"))
    return [(path, what) for path, what in nodes
            if os.path.abspath(path).startswith(tuple(DEVICE_DIRS))]


def usb_node(address: str) -> str | None:
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
        if account_allows(account, st, os.R_OK | os.W_OK):
            continue
        owner = st.st_uid == account.uid  # then only the owner's bits count, whatever the group
        if not owner and st.st_gid != 0 and stat.S_IMODE(st.st_mode) & 0o060 == 0o060:
            needed.setdefault(st.st_gid, []).append(f"{path} ({what})")
        else:  # no group to join: the device needs a group (and mode) first
            no_group.append(f"{path} ({what}, {describe_inode(st)})")
    if not needed and not no_group:
        return Check(name, PASS, f"{account.name} can open "
                     + ", ".join(f"{path} ({what}, {describe_inode(st)})" for path, what, st in present))
    problems, fixes = [], []
    # Joined in the group database but not in this process's groups: only a new login helps.
    stale = set(needed) & set(os.getgrouplist(account.name, account.gid)) if account.this_process else set()
    missing = sorted(group_name(gid) for gid in needed if gid not in stale)
    for gid, devices in sorted(needed.items()):
        if gid in stale:
            problems.append(f"{account.name} joined group {group_name(gid)} after this session"
                            f" started, so cannot open {', '.join(devices)} yet")
        else:
            problems.append(f"{account.name} is not in group {group_name(gid)}, which"
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
