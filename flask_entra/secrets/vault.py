"""Vault (or OpenBao, same HTTP API) KV version 2 through hvac.

App secrets live at ``<mount>/<prefix>/app/<name>``, tenant secrets at ``<mount>/<prefix>/tenants/<tenant>/<name>``,
each an entry ``{"value": ...}``, so rotating one secret is one new version of one entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import hvac
import requests
from hvac import exceptions as vault_errors

from ..errors import SecretStoreError
from .names import validate_name, validate_tenant

# A secret read sits on request paths: fail fast rather than hold a worker thread for hvac's default 30 s.
VAULT_TIMEOUT_SECONDS = 10


class VaultSecretProvider:
    """KV v2 entries; ``token=None`` lets hvac take ``VAULT_TOKEN`` from the environment."""

    kind = "vault"
    writable = True

    def __init__(self, url: str, token: str | None, *, mount: str = "secret", path_prefix: str = "flask-entra") -> None:
        parts = urlsplit(url)
        # Shown in messages without any user:password@ part.
        self.address = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self.mount = mount.strip("/")
        self.path_prefix = path_prefix.strip("/")
        self._client = hvac.Client(url=url, token=token, timeout=VAULT_TIMEOUT_SECONDS)
        self._kv = self._client.secrets.kv.v2

    def path(self, tenant: str | None, name: str) -> str:
        scope = ["app"] if tenant is None else ["tenants", validate_tenant(tenant)]
        return "/".join(part for part in (self.path_prefix, *scope, validate_name(name)) if part)

    def read(self, tenant: str | None, name: str) -> str | None:
        with self._converting_errors(f"read {name}"):
            try:
                response = self._kv.read_secret_version(
                    path=self.path(tenant, name), mount_point=self.mount, raise_on_deleted_version=True
                )
            except vault_errors.InvalidPath as exc:
                if exc.errors:  # Vault names a routing problem (no such mount), not a missing or deleted entry
                    raise
                return None
        value = response["data"]["data"].get("value")
        return value if isinstance(value, str) and value else None

    def write(self, tenant: str, name: str, value: str) -> None:
        with self._converting_errors(f"write {name}"):
            self._kv.create_or_update_secret(
                path=self.path(tenant, name), secret={"value": value}, mount_point=self.mount
            )

    def remove(self, tenant: str, name: str) -> None:
        # Every version and the metadata: a disconnected credential must not stay recoverable from the history.
        with self._converting_errors(f"delete {name}"):
            self._kv.delete_metadata_and_all_versions(path=self.path(tenant, name), mount_point=self.mount)

    def location(self, tenant: str | None, name: str) -> str:
        return f"Vault entry {self.mount}/{self.path(tenant, name)} (key 'value') at {self.address}"

    def close(self) -> None:
        self._client.adapter.close()

    @contextmanager
    def _converting_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (vault_errors.VaultError, requests.RequestException) as exc:
            raise self._store_error(action, exc) from exc

    def _store_error(self, action: str, exc: Exception) -> SecretStoreError:
        """Operator advice per failure; hvac's own text is left out (it is not needed to act and names request URLs)."""
        attempt = f"Could not {action} in Vault at {self.address}"
        if isinstance(exc, requests.exceptions.SSLError):
            return SecretStoreError(
                f"{attempt}: the TLS handshake failed.",
                advice="Check the scheme of ENTRA_VAULT_URL and that Vault's certificate is trusted here "
                "(REQUESTS_CA_BUNDLE).",
            )
        if isinstance(exc, requests.RequestException):
            return SecretStoreError(
                f"{attempt}: Vault is unreachable ({type(exc).__name__}).",
                advice="Check that Vault is running and reachable from this host (service, firewall, DNS) and that "
                "ENTRA_VAULT_URL is right.",
            )
        if isinstance(exc, (vault_errors.Unauthorized, vault_errors.Forbidden)):
            return SecretStoreError(
                f"{attempt}: Vault refused the token.",
                advice="Check that ENTRA_VAULT_TOKEN is valid and not expired, and that its policy allows create, "
                f"read, update and delete on {self.mount}/data/{self.path_prefix}/* and delete on "
                f"{self.mount}/metadata/{self.path_prefix}/*.",
            )
        if isinstance(exc, vault_errors.VaultDown):
            return SecretStoreError(
                f"{attempt}: Vault is sealed or not the active node.",
                advice="Unseal Vault, or point ENTRA_VAULT_URL at the active node.",
            )
        if isinstance(exc, vault_errors.InvalidPath):
            return SecretStoreError(
                f"{attempt}: there is no secrets engine at '{self.mount}'.",
                advice="Check that ENTRA_VAULT_MOUNT names a KV version 2 secrets engine ('secrets list -detailed').",
            )
        return SecretStoreError(
            f"{attempt}: Vault answered {type(exc).__name__}.",
            advice="Check Vault's server and audit logs for this request.",
        )
