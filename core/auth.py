"""Passwords: scrypt hashes (never the password itself), constant-time checks, a growing delay after failures on
the account, one attempt at a time. The hashes live with the accounts (:mod:`core.store.users`).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import math
import secrets
import threading
import time
from typing import TYPE_CHECKING

from core.errors import InputError

if TYPE_CHECKING:  # the database layer is the caller's choice; this module needs none
    from core.store.sign_in import SignInLedger

__all__ = ["FailureDelay", "hash_password", "verify_password"]

_SCHEME = "scrypt"
_N, _R, _P = 2**14, 8, 1  # OWASP's minimum for scrypt: ~50 ms and 16 MB per check


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` (base64) of a password of at least 8 characters."""
    if len(password) < 8:
        raise InputError("A password needs at least 8 characters.")
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


@functools.cache
def _decoy() -> str:
    """A hash no password matches, checked in place of an unknown account's."""
    return hash_password(secrets.token_hex(16))


class FailureDelay:
    """Slows guessing on an account: every attempt waits its turn, and the wait grows with the failures before it.

    Attempts on one key (the account) are checked one at a time: a lock is held through
    the delay and the password check, so parallel sessions queue behind one another instead of all waiting the same
    delay at once. The delay is 0 s with no failures on record, then ``base_s`` doubling with each further failure up
    to ``cap_s`` (0.5, 1, 2, 4, 8 s by default).

    **How failures are forgotten**: only by time. One failure is forgotten for every ``forget_s`` seconds without a
    failure (the count stops at the failures that reach the cap, so after 5 minutes of quiet the 8 s cap has fallen
    back to 0 s by default, however long the attack was). A right password does not
    reset the count: an attacker who keeps guessing gains nothing when the account's owner signs in meanwhile, and a
    count shared by everyone (keyed on the account, not on an address that a proxy or a NAT may share or an attacker
    may change) cannot be reset from another address either. The cost is that the owner signing in during an attack
    waits like everyone else, at most ``cap_s`` plus the attempts queued before theirs.

    **Several servers**: with ``shared`` (a :class:`core.store.sign_in.SignInLedger` on the database they share) the
    count lives in the database and attempts take turns across servers, so that alternating between servers gains
    nothing. **A flood of attempts** queues at most ``max_waiting`` per process; further ones are refused at once
    with a sentence (they would only hold the server's threads).

    Parameters
    ----------
    base_s : float
        The delay after the first failure.
    cap_s : float
        The longest delay.
    forget_s : float
        Seconds without a failure after which one failure on record is forgotten.
    clock : callable
        Seconds, monotonic (injectable for tests; the shared ledger uses the database's clock).
    shared : SignInLedger, optional
        The failures on record in the database, and turns across servers; in this process only without it.
    max_waiting : int
        Attempts that may wait for their turn at once in this process.
    """

    def __init__(
        self,
        *,
        base_s: float = 0.5,
        cap_s: float = 8.0,
        forget_s: float = 60.0,
        clock=time.monotonic,
        shared: SignInLedger | None = None,
        max_waiting: int = 8,
    ) -> None:
        self.base_s, self.cap_s, self.forget_s = base_s, cap_s, forget_s
        self.shared, self.max_waiting = shared, max_waiting
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, time of the last one)
        self._lock = threading.Lock()  # guards the dicts
        self._turns: dict[str, threading.Lock] = {}  # key -> held through one attempt's delay and check
        self._waiting: dict[str, int] = {}  # key -> attempts in this process waiting for (or holding) the turn

    def _count(self, key: str) -> int:
        if self.shared is not None:
            return self.shared.failures(key, forget_s=self.forget_s)
        failures, last = self._failures.get(key, (0, 0.0))
        if failures and self.forget_s > 0:
            failures = max(0, failures - int((self._clock() - last) // self.forget_s))
        return failures

    def wait_s(self, key: str) -> float:
        """Seconds the next attempt for ``key`` must wait (not counting attempts queued before it)."""
        with self._lock:
            failures = self._count(key)
        return 0.0 if failures == 0 else min(self.cap_s, self.base_s * 2.0 ** min(failures - 1, 60))

    def record(self, key: str, *, success: bool) -> None:
        """Count a failure; a success changes nothing (failures are forgotten only with time, see the class)."""
        if success:
            return
        if self.shared is not None:
            self.shared.add_failure(key, forget_s=self.forget_s, most=self._failures_to_cap())
            return
        with self._lock:  # counted no further than the cap needs: a long attack is forgotten as fast as a short one
            self._failures[key] = (min(self._count(key) + 1, self._failures_to_cap()), self._clock())

    def _failures_to_cap(self) -> int:
        """The number of failures whose delay reaches ``cap_s``."""
        return 1 + max(0, math.ceil(math.log2(max(self.cap_s, self.base_s) / self.base_s))) if self.base_s > 0 else 1

    def check(self, key: str, password: str, stored: str | None, *, sleep=time.sleep) -> bool:
        """Wait for this key's turn, wait the delay due, then verify and record the outcome.

        Parameters
        ----------
        key : str
            The account's name.
        password : str
            What was typed.
        stored : str or None
            The account's hash; ``None`` (no such account, or no password) fails, after as long a check.
        sleep : callable
            ``time.sleep`` (injectable for tests).

        Returns
        -------
        bool
            Whether the password is right.

        Raises
        ------
        InputError
            When ``max_waiting`` attempts on the account are already waiting in this process (tried again later).
        """
        with self._lock:
            if self._waiting.get(key, 0) >= self.max_waiting:
                raise InputError("Too many sign-in attempts on this account are waiting; try again in a minute.")
            self._waiting[key] = self._waiting.get(key, 0) + 1
            turn = self._turns.setdefault(key, threading.Lock())
        try:
            with turn, self.shared.turn(key) if self.shared is not None else contextlib.nullcontext():
                # one attempt per account at a time (across servers with ``shared``), through the delay and the check
                sleep(self.wait_s(key))
                # an unknown account costs a check too: the time taken does not tell which names exist
                ok = verify_password(password, stored if stored is not None else _decoy()) and stored is not None
                self.record(key, success=ok)
        finally:
            with self._lock:
                self._waiting[key] -= 1
        return ok
