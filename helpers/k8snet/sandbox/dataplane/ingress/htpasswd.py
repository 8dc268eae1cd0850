"""Password checks of Traefik's basicAuth middleware (github.com/containous/go-http-auth ``CheckSecret``).

Users are ``name:hash`` lines as ``htpasswd`` writes them. The hash's prefix picks the check: ``{SHA}``
(base64 SHA-1), ``$2y$``/``$2a$``/``$2b$``/``$2x$`` (bcrypt), anything else MD5-crypt (``$apr1$`` from
``htpasswd -m``, or ``$1$``). A ``kubernetes.io/basic-auth`` Secret's password becomes a ``{SHA}`` hash
(crd/kubernetes.go loadBasicAuthCredentials). bcrypt needs a library the sandbox does not ship, so bcrypt
users are reported and never authenticated (use ``htpasswd -m`` or a basic-auth Secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2x$", "$2y$")


def sha_hash(password: bytes) -> str:
    """``{SHA}`` + base64(SHA-1(password)), what Traefik makes of a basic-auth Secret."""
    return "{SHA}" + base64.b64encode(hashlib.sha1(password).digest()).decode()


def md5_crypt(password: bytes, salt: bytes, magic: bytes) -> bytes:
    """The MD5-based crypt(3) scheme (``$1$`` in FreeBSD, ``$apr1$`` in Apache): 1000 rounds of MD5.

    Written from the scheme's description (Poul-Henning Kamp's md5crypt), not from any implementation.
    """
    alternate = hashlib.md5(password + salt + password).digest()
    ctx = hashlib.md5(password + magic + salt)
    length = len(password)
    while length > 0:
        ctx.update(alternate[:min(16, length)])
        length -= 16
    i = len(password)
    while i:
        ctx.update(password[:1] if not i & 1 else b"\0")
        i >>= 1
    final = ctx.digest()
    for rnd in range(1000):
        step = hashlib.md5()
        step.update(password if rnd & 1 else final)
        if rnd % 3:
            step.update(salt)
        if rnd % 7:
            step.update(password)
        step.update(final if rnd & 1 else password)
        final = step.digest()
    out = []
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        value = final[a] << 16 | final[b] << 8 | final[c]
        for _ in range(4):
            out.append(ITOA64[value & 0x3F])
            value >>= 6
    value = final[11]
    for _ in range(2):
        out.append(ITOA64[value & 0x3F])
        value >>= 6
    return magic + salt + b"$" + "".join(out).encode()


def is_bcrypt(secret: str) -> bool:
    return secret.startswith(BCRYPT_PREFIXES)


def check(password: str, secret: str) -> bool:
    """CheckSecret: whether ``password`` matches the stored ``secret`` (constant-time comparison)."""
    pw = password.encode()
    if secret.startswith("{SHA}"):
        return hmac.compare_digest(secret.encode(), sha_hash(pw).encode())
    if is_bcrypt(secret):
        return False
    parts = secret.encode().split(b"$", 3)
    if len(parts) != 4:
        return False
    magic, salt = b"$" + parts[1] + b"$", parts[2]
    return hmac.compare_digest(secret.encode(), md5_crypt(pw, salt, magic))
