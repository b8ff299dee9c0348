"""A throwaway service-account file whose token_uri points at the local endpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def write_service_account(path: str | Path, base_url: str, project_id: str) -> Path:
    """Write a service-account JSON with a fresh key, so firebase-admin's real OAuth flow runs locally."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "local",
        "private_key": pem,
        "client_email": f"nudge-local@{project_id}.iam.gserviceaccount.com",
        "client_id": "0",
        "token_uri": f"{base_url}/token",
    }
    target = Path(path)
    target.write_text(json.dumps(info))
    os.chmod(target, 0o600)  # it holds a private key, even if a throwaway one
    return target
