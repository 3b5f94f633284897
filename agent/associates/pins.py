"""Associate PINs: salted scrypt hashes, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from agent.errors import InvalidActionError

# scrypt cost: ~50 ms on a store PC, so a stolen config cannot be brute-forced
# over the 10^4..10^8 PIN space cheaply, while a login stays instant to a person.
_N, _R, _P = 2**14, 8, 1
PIN_PATTERN = re.compile(r"^[0-9]{4,12}$")


def hash_pin(pin: str) -> str:
    if not PIN_PATTERN.match(pin):
        raise InvalidActionError("a PIN is 4 to 12 digits")
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
