"""Admin passwords: scrypt hashes (never the password itself), constant-time checks, a growing delay after failures.

Where the hash lives: the environment variable ``XRAY_ADMIN_PASSWORD_HASH``, or ``admin_password_hash`` in
Streamlit's secrets (``.streamlit/secrets.toml``); make one with ``python -m core hash-password``. With neither, admin
pages stay locked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time

from core.errors import InputError

__all__ = ["FailureDelay", "hash_password", "verify_password"]

_SCHEME = "scrypt"
_N, _R, _P = 2**14, 8, 1  # OWASP's minimum for scrypt: ~50 ms and 16 MB per check


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` (base64) of a password of at least 8 characters."""
    if len(password) < 8:
        raise InputError("An admin password needs at least 8 characters.")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = base64.b64encode
    return f"{_SCHEME}${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash; compares in constant time; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, expected = stored.strip().split("$")
        if scheme != _SCHEME:
            return False
        digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(base64.b64decode(expected)))  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


class FailureDelay:
    """How long to make the next sign-in attempt wait: 0 at first, then doubling from 0.5 s per consecutive failure
    up to ``cap_s``, per key (e.g. per client); a success resets it. Thread-safe (one instance per server)."""

    def __init__(self, *, base_s: float = 0.5, cap_s: float = 8.0) -> None:
        self.base_s, self.cap_s = base_s, cap_s
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str) -> float:
        """Seconds the next attempt for ``key`` must wait."""
        with self._lock:
            failures = self._failures.get(key, 0)
        return 0.0 if failures == 0 else min(self.cap_s, self.base_s * 2 ** (failures - 1))

    def record(self, key: str, *, success: bool) -> None:
        """Count a failure, or reset after a success."""
        with self._lock:
            if success:
                self._failures.pop(key, None)
            else:
                self._failures[key] = self._failures.get(key, 0) + 1

    def check(self, key: str, password: str, stored: str | None, *, sleep=time.sleep) -> bool:
        """Wait the delay due, then verify; records the outcome. ``stored=None`` (no admin configured) fails."""
        sleep(self.wait_s(key))
        ok = stored is not None and verify_password(password, stored)
        self.record(key, success=ok)
        return ok
