"""A GitHub App's key pair, as made when an App is registered: the bot keeps the private half, GitHub
(here the emulator, through `driver.install_app(..., public_key_pem=...)`) checks JWTs with the public."""

from __future__ import annotations

from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def new_app_key_pair() -> tuple[str, str]:
    """A fresh (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


# One per process for tests that need just "an App key": generating an RSA key costs ~50 ms.
app_key_pair = cache(new_app_key_pair)
