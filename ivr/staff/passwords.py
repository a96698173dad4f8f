"""Password hashing (argon2id via argon2-cffi) and the password rules."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # longer input is refused before hashing (no hashing huge bodies)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so both failures take the same time."""
    return _hasher.hash("not a password: equalises timing for unknown users")


def check_new_password(password: str) -> str | None:
    """Why ``password`` is not acceptable for an account, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password has at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; an unknown user (None) costs the same time and fails."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with older parameters: store a fresh one after a successful login."""
    return _hasher.check_needs_rehash(password_hash)
