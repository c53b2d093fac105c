"""The provider protocol and the two local providers: environment variables (read-only) and a directory of files."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from ..errors import SecretStoreError
from .names import validate_name, validate_tenant


class SecretProvider(Protocol):
    """One place secrets live. ``tenant=None`` addresses an app secret; only tenant secrets are written here."""

    kind: str
    writable: bool

    def read(self, tenant: str | None, name: str) -> str | None: ...

    def write(self, tenant: str, name: str, value: str) -> None: ...

    def remove(self, tenant: str, name: str) -> None: ...

    def location(self, tenant: str | None, name: str) -> str:
        """Where an operator puts this secret (for advice in error messages)."""
        ...

    def close(self) -> None: ...


# Tenant ids with an env form: lowercase letters, digits, single hyphens (UUIDs, slugs). Upper-casing them and turning
# '-' into '_' is then reversible, and "__" can separate tenant from name, so two tenants never share a variable.
_ENV_TENANT = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class EnvSecretProvider:
    """Read-only. App secrets: the upper-cased name (``MICROSOFT_CLIENT_SECRET``). Tenant secrets:
    ``ENTRA_SECRET_<TENANT>__<NAME>``, e.g. ``ENTRA_SECRET_ACME_1__ENTRA_CIPP_CLIENT_SECRET`` for tenant ``acme-1``.

    Tenant ids outside the env form above get nothing from the environment (any mapping of them could collide).
    An empty variable counts as unset.
    """

    kind = "env"
    writable = False

    def read(self, tenant: str | None, name: str) -> str | None:
        variable = self.variable(tenant, name)
        return (os.environ.get(variable) or None) if variable else None

    @staticmethod
    def variable(tenant: str | None, name: str) -> str | None:
        if tenant is None:
            return name.upper()
        if not _ENV_TENANT.fullmatch(tenant):
            return None
        return f"ENTRA_SECRET_{tenant.upper().replace('-', '_')}__{name.upper()}"

    def write(self, tenant: str, name: str, value: str) -> None:
        raise self._read_only()

    def remove(self, tenant: str, name: str) -> None:
        raise self._read_only()

    def location(self, tenant: str | None, name: str) -> str:
        variable = self.variable(tenant, name)
        return f"environment variable {variable}" if variable else "no environment variable (tenant id has no env form)"

    def close(self) -> None:
        pass

    @staticmethod
    def _read_only() -> SecretStoreError:
        return SecretStoreError(
            "The env secret provider is read-only.",
            advice="Add 'filesystem' or 'vault' to ENTRA_SECRET_PROVIDERS to store secrets.",
        )


class FilesystemSecretProvider:
    """One file per secret: app secrets at ``<root>/<name>`` (the Docker and Kubernetes secrets layout), tenant
    secrets at ``<root>/tenants/<tenant>/<name>``. Files are 0600 and directories made here 0700; a write replaces
    the file atomically, so a reader sees the old value or the new one, never a torn file.
    """

    kind = "filesystem"
    writable = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, tenant: str | None, name: str) -> Path:
        # Validated here too, not only by the chain: this is where a crafted tenant or name would become a path.
        validate_name(name)
        if tenant is None:
            return self.root / name
        return self.root / "tenants" / validate_tenant(tenant) / name

    def read(self, tenant: str | None, name: str) -> str | None:
        path = self.path(tenant, name)
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretStoreError(
                f"Cannot read the secret file {path}.",
                advice="Check that it is UTF-8 text readable by the user running flask-entra (mode 0600, owned by it).",
            ) from exc
        # Files written by hand (echo, editors) end with a newline that is not part of the secret.
        return text.rstrip("\r\n") or None

    def write(self, tenant: str, name: str, value: str) -> None:
        path = self.path(tenant, name)
        try:
            # Level by level: mkdir(parents=True) would give the missing parents default permissions.
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for directory in (path.parent.parent, path.parent):
                directory.mkdir(mode=0o700, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")  # 0600
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    handle.write(value)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise
            _fsync_directory(path.parent)  # makes the rename itself survive a crash (a rotated token must not vanish)
        except OSError as exc:
            raise self._write_error(path) from exc

    def remove(self, tenant: str, name: str) -> None:
        path = self.path(tenant, name)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise self._write_error(path) from exc

    def location(self, tenant: str | None, name: str) -> str:
        return f"file {self.path(tenant, name)}"

    def close(self) -> None:
        pass

    @staticmethod
    def _write_error(path: Path) -> SecretStoreError:
        return SecretStoreError(
            f"Cannot change the secret file {path}.",
            advice="Check that ENTRA_SECRETS_DIR exists or can be created, is writable by the user running flask-entra "
            "and is not a read-only mount.",
        )


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
