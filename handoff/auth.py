"""Agent passwords (scrypt) and expiring, HMAC-signed bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class InvalidToken(Exception):
    """A bearer token that is malformed, forged or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """Hashes a password with scrypt and a random salt.

    Returns:
        ``scrypt$N$r$p$salt$hash`` (salt and hash base64url).
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Checks a password against :func:`hash_password` output in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r),
                                   p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, _unb64(digest))


def issue_token(username: str, secret_key: str, ttl_seconds: int) -> str:
    """A bearer token ``payload.signature`` for ``username`` that expires after ``ttl``."""
    payload = _b64(json.dumps({"sub": username, "exp": int(time.time()) + ttl_seconds,
                               "n": secrets.token_hex(4)}).encode())
    signature = hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(signature)}"


def verify_token(token: str, secret_key: str) -> str:
    """Checks a bearer token's signature (constant time) and expiry.

    Returns:
        The agent's username.

    Raises:
        InvalidToken: malformed, wrong signature or expired.
    """
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        raise InvalidToken("malformed token")
    expected = hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(signature)
    except ValueError as error:
        raise InvalidToken("malformed token") from error
    if not hmac.compare_digest(expected, given):
        raise InvalidToken("invalid token")
    try:
        claims = json.loads(_unb64(payload))
        username, expires = str(claims["sub"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidToken("malformed token") from error
    if expires < time.time():
        raise InvalidToken("token expired")
    return username


def service_token_matches(given: str, expected: str) -> bool:
    """Constant-time check of the bot's service token (never matches an empty one)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
