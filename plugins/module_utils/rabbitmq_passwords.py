"""RabbitMQ's salted password hashes: base64(salt + H(salt + password)) with a 4-byte salt,
H named by the user's hashing_algorithm. Shared by the modules that check a wanted
password against a stored hash (rabbitmq_definitions_info) and set one
(rabbitmq_declare)."""

import base64
import hashlib
import hmac
import os

HASHES = {
    "rabbit_password_hashing_sha256": hashlib.sha256,
    "rabbit_password_hashing_sha512": hashlib.sha512,
    "rabbit_password_hashing_md5": hashlib.md5,
}
DEFAULT_HASHING = "rabbit_password_hashing_sha256"


def salted_hash(algorithm, password, salt=None):
    """RabbitMQ's form of the password, with a new salt unless one is given."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + HASHES[algorithm](salt + password.encode("utf-8")).digest()).decode("ascii")


def matches(user, password):
    """Whether the password is the one the user's stored hash was made from (an exported
    user: password_hash, hashing_algorithm)."""
    if password is None:
        return False
    algorithm = user.get("hashing_algorithm") or DEFAULT_HASHING
    try:
        stored = base64.b64decode(user.get("password_hash") or "")
    except ValueError:
        return False
    if algorithm not in HASHES or len(stored) <= 4:
        return False
    return hmac.compare_digest(stored, base64.b64decode(salted_hash(algorithm, password, stored[:4])))
