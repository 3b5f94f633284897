"""Whose access the permission checks judge, and what the kernel would let that account do.

The account is the one named with ``--user``; else, when doctor runs as root, the
service user ``store-agent`` install.sh creates (if it exists); else whoever runs
doctor. The groups of the account running doctor are this process's own
(``os.getgroups()``: a group added since login does not count yet); another
account's come from the group database, as its next login or service start will
get them.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass

from agent.ops.checks import FAIL, Check

SERVICE_USER = "store-agent"  # the system user install.sh creates and the units run as


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
        return f"{self.name}:{group_name(self.gid)}"


def service_account(name: str | None = None) -> Account:
    """The account named ``name``, by default as the module doc says; KeyError if unknown."""
    euid = os.geteuid()
    if name is None:
        entry: pwd.struct_passwd | None
        try:
            entry = pwd.getpwnam(SERVICE_USER) if euid == 0 else pwd.getpwuid(euid)
        except KeyError:
            entry = pwd.getpwuid(euid) if euid == 0 else None
        if entry is None:  # a uid without a passwd entry (containers): still this process
            return Account(str(euid), euid, os.getegid(), own_groups(), True)
    else:
        entry = pwd.getpwnam(name)
    if entry.pw_uid == euid:
        return Account(entry.pw_name, euid, entry.pw_gid, own_groups(), True)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid,
                   frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid)), False)


def own_groups() -> frozenset[int]:
    return frozenset(os.getgroups()) | {os.getegid()}


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def describe_inode(st: os.stat_result) -> str:
    return f"{user_name(st.st_uid)}:{group_name(st.st_gid)} {stat.S_IMODE(st.st_mode):04o}"


def account_allows(account: Account, st: os.stat_result, want: int) -> bool:
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


def no_such_user(name: str, user: str | None) -> Check:
    return Check(name, FAIL, f"no user {user!r} on this PC: cannot check for it",
                 f"name the account store-agent runs as (--user NAME); sudo ./install.sh creates"
                 f" {SERVICE_USER}")
