"""Network addresses written in config.toml: one reading of ``host:port``, one of "loopback".

``metrics.listen``, ``ui.listen`` and ``oms.url`` are checked when the config
loads and read again when a server binds; both must agree, so both use these.
"""

from __future__ import annotations

import ipaddress


def split_host_port(listen: str, *, default_host: str) -> tuple[str, int]:
    """'host:port', '[::1]:port' or ':port' (``default_host``); port 0 takes any free port.

    Raises ValueError for anything else, with the value quoted as data.
    """
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{listen!r} is not host:port")
    return host.strip("[]") or default_host, int(port)


def is_loopback(host: str) -> bool:
    """True for 127.x, ::1 and localhost: traffic to it never leaves this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
