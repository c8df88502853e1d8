"""Admin passwords: hashes verify, wrong ones do not, failures on the account slow every further attempt."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.auth import FailureDelay, hash_password, verify_password
from core.errors import InputError


def test_a_hash_verifies_its_password_and_nothing_else():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert stored != hash_password("correct horse")  # a fresh salt each time
    for malformed in ("", "plain-text", "md5$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA"):
        assert not verify_password("correct horse", malformed)
    with pytest.raises(InputError, match="8 characters"):
        hash_password("short")


class _Clock:
    """A monotonic clock that only moves when told to (or when the fake sleep sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_make_the_next_attempt_wait_longer_up_to_the_cap():
    clock, slept = _Clock(), []
    delay = FailureDelay(base_s=0.5, cap_s=2.0, forget_s=60.0, clock=clock)
    stored = hash_password("correct horse")
    for _ in range(5):
        assert not delay.check("admin", "wrong password", stored, sleep=slept.append)
    assert slept == [0.0, 0.5, 1.0, 2.0, 2.0]
    assert delay.wait_s("another account") == 0.0  # per account
    assert not delay.check("admin", "correct horse", None, sleep=slept.append)  # no admin configured: locked


def test_a_right_password_does_not_reset_the_count_only_time_does():
    clock, slept = _Clock(), []
    delay = FailureDelay(base_s=0.5, cap_s=8.0, forget_s=60.0, clock=clock)
    stored = hash_password("correct horse")
    for _ in range(4):
        delay.check("admin", "wrong password", stored, sleep=slept.append)
    assert delay.check("admin", "correct horse", stored, sleep=slept.append)
    assert slept[-1] == 4.0  # the success paid the full delay
    assert delay.wait_s("admin") == 4.0  # and left the count where it was: an attacker gains nothing from it
    clock.now += 59.9
    assert delay.wait_s("admin") == 4.0  # under a minute of quiet forgets nothing
    clock.now += 0.1
    assert delay.wait_s("admin") == 2.0  # each full minute without a failure forgets one
    clock.now += 3 * 60
    assert delay.wait_s("admin") == 0.0
    delay.check("admin", "wrong password", stored, sleep=slept.append)
    assert delay.wait_s("admin") == 0.5  # a fresh start, not a negative count


def test_parallel_attempts_on_the_account_wait_for_one_another():
    """Five sessions guessing at once (the finding: each was answered after the same delay, side by side)."""
    clock, lock = _Clock(), threading.Lock()
    delay = FailureDelay(base_s=0.5, cap_s=8.0, clock=clock)
    stored = hash_password("correct horse")
    slept, inside, most_inside = [], [0], [0]

    def sleep(seconds: float) -> None:  # advances the fake clock; a real pause lets the other threads try to overlap
        with lock:
            inside[0] += 1
            most_inside[0] = max(most_inside[0], inside[0])
            slept.append(seconds)
            clock.now += seconds
        time.sleep(0.02)
        with lock:
            inside[0] -= 1

    addresses = [f"10.0.0.{i}" for i in range(5)]  # different clients: the key is the account, not the address
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: delay.check("admin", "wrong guess", stored, sleep=sleep), addresses))
    assert results == [False] * 5
    assert most_inside[0] == 1  # one attempt at a time
    assert slept == [0.0, 0.5, 1.0, 2.0, 4.0]  # each waited for the failures before it: 7.5 s in all, not 0 s
    assert delay.wait_s("admin") == 8.0


def test_the_command_line_adds_the_first_admin_with_a_hashed_password(monkeypatch, capsys):
    import io

    from core.__main__ import main
    from core.store.audit import AuditTrail
    from core.store.users import UserStore

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["add-user", "Alice", "--admin", "--password-stdin"]) == 0
    assert "added admin 'alice'" in capsys.readouterr().out
    users = UserStore()
    assert users.get("alice").is_admin
    assert verify_password("correct horse", users.password_hash("ALICE"))
    assert [(e.actor, e.action, e.target) for e in AuditTrail().query()] == [("command line", "add-user", "alice")]
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["add-user", "alice", "--password-stdin"]) == 2  # taken: a sentence, not a traceback
    assert "already taken" in capsys.readouterr().err


def test_an_unknown_account_costs_a_password_check_too():
    delay = FailureDelay()
    started = time.perf_counter()
    assert delay.check("nobody", "a guess", None, sleep=lambda s: None) is False
    assert time.perf_counter() - started > 0.01  # scrypt ran on a decoy hash: the time does not tell


def test_a_long_attack_neither_overflows_the_delay_nor_outlasts_a_short_one():
    now = [0.0]
    delays = FailureDelay(clock=lambda: now[0])
    for _ in range(5000):  # 2**5000 would overflow a float; the count stops where the delay reaches its cap
        delays.record("admin", success=False)
    assert delays.wait_s("admin") == 8.0
    now[0] = 5 * 60.0  # five quiet minutes forget five failures: back to no delay, as after a short attack
    assert delays.wait_s("admin") == 0.0


def test_attempts_through_two_servers_share_one_count_and_take_turns(db_url):
    """Two servers (two FailureDelays) on one database: alternating between them gains an attacker nothing, and their
    attempts never overlap."""
    from core.store.sign_in import SignInLedger

    stored = hash_password("correct horse")
    servers = [FailureDelay(shared=SignInLedger(db_url)) for _ in range(2)]
    inside, overlaps, waits = [0], [], []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:  # the delay due, with a short real pause to let the other server try
        with lock:
            inside[0] += 1
            overlaps.append(inside[0])
        waits.append(seconds)
        time.sleep(0.05)
        with lock:
            inside[0] -= 1

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: servers[i % 2].check("admin", "guess", stored, sleep=sleep), range(4)))
    assert results == [False] * 4
    assert sorted(waits) == [0.0, 0.5, 1.0, 2.0]  # one count across both servers
    assert servers[0].wait_s("admin") == servers[1].wait_s("admin") == 4.0
    assert max(overlaps) == 1  # one attempt at a time across servers


def test_a_flood_of_waiting_attempts_is_refused_at_once():
    stored = hash_password("correct horse")
    delays = FailureDelay(max_waiting=2)
    release = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(delays.check, "admin", "guess", stored, sleep=lambda s: release.wait(5)) for _ in "ab"]
        time.sleep(0.2)
        with pytest.raises(InputError, match="Too many sign-in attempts"):
            delays.check("admin", "guess", stored, sleep=lambda s: None)
        release.set()
        assert [f.result() for f in waiting] == [False, False]
    assert not delays.check("admin", "guess", stored, sleep=lambda s: None)  # the queue drained: tried again
