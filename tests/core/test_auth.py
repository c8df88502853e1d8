"""Admin passwords: hashes verify, wrong ones do not, failures slow the next attempt."""

from __future__ import annotations

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


def test_failures_make_the_next_attempt_wait_longer_until_a_success():
    delay, slept = FailureDelay(base_s=0.5, cap_s=2.0), []
    stored = hash_password("correct horse")
    for _ in range(4):
        assert not delay.check("client", "wrong password", stored, sleep=slept.append)
    assert slept == [0.0, 0.5, 1.0, 2.0]
    assert delay.wait_s("other client") == 0.0  # per client
    assert delay.check("client", "correct horse", stored, sleep=slept.append)
    assert delay.wait_s("client") == 0.0
    assert not delay.check("client", "correct horse", None, sleep=slept.append)  # no admin configured: locked


def test_the_command_line_prints_a_hash_of_the_password_given(monkeypatch, capsys):
    import io

    from core.__main__ import main

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["hash-password", "--stdin"]) == 0
    assert verify_password("correct horse", capsys.readouterr().out.strip())
