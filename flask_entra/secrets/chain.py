"""The secret chain: providers read in configured order; writes and deletes go to the first writable one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..config import DEFAULTS
from ..errors import ConfigurationError, SecretStoreError, ValidationFailed
from .names import validate_name, validate_tenant
from .providers import EnvSecretProvider, FilesystemSecretProvider, SecretProvider
from .redaction import REGISTRY
from .vault import VaultSecretProvider

PROVIDER_KINDS = ("env", "filesystem", "vault")


class SecretChain:
    """Secrets of the app (``tenant`` absent) and of each MSP tenant.

    A value found in an earlier provider hides the later ones (env overrides files, files override Vault, in the
    default order). Every value read or written is registered for log redaction.
    """

    def __init__(self, providers: Sequence[SecretProvider]) -> None:
        if not providers:
            raise ConfigurationError("The secret chain has no provider.", advice=_PROVIDERS_ADVICE)
        self.providers = tuple(providers)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SecretChain:
        """Build from the ``ENTRA_SECRET*``/``ENTRA_VAULT_*`` keys (defaults from flask_entra.config); no I/O here."""

        def setting(key: str) -> Any:
            return config.get(key, DEFAULTS[key])

        return cls([_build_provider(kind, setting) for kind in _provider_kinds(setting("ENTRA_SECRET_PROVIDERS"))])

    def get_app_secret(self, name: str) -> str | None:
        return self._read(None, validate_name(name))

    def require_app_secret(self, name: str) -> str:
        """The app secret, or a ConfigurationError telling the operator every place it may be set."""
        value = self.get_app_secret(name)
        if value is None:
            places = "; ".join(provider.location(None, name) for provider in self.providers)
            raise ConfigurationError(f"The app secret {name} is not set.", advice=f"Set it in one of: {places}.")
        return value

    def get(self, tenant: str, name: str) -> str | None:
        return self._read(validate_tenant(tenant), validate_name(name))

    def set(self, tenant: str, name: str, value: str) -> None:
        """Create or overwrite (rotate) a tenant secret in the first writable provider."""
        validate_tenant(tenant)
        validate_name(name)
        if not isinstance(value, str) or not value:
            raise ValidationFailed("A secret value must be a non-empty string.")
        # Registered before the write, so a failing write's log lines are scrubbed too.
        REGISTRY.register(tenant, name, value)
        self._writer().write(tenant, name, value)

    def delete(self, tenant: str, name: str) -> None:
        self.delete_many(tenant, (name,))

    def delete_many(self, tenant: str, names: Iterable[str]) -> None:
        """Remove tenant secrets from the first writable provider (absent ones are fine); read-only ones keep theirs."""
        validate_tenant(tenant)
        checked = [validate_name(name) for name in names]  # all valid before any is deleted
        writer = self._writer()
        for name in checked:
            writer.remove(tenant, name)

    def close(self) -> None:
        for provider in self.providers:
            provider.close()

    def _read(self, tenant: str | None, name: str) -> str | None:
        for provider in self.providers:
            value = provider.read(tenant, name)
            if value is not None:
                REGISTRY.register(tenant, name, value)
                return value
        return None

    def _writer(self) -> SecretProvider:
        for provider in self.providers:
            if provider.writable:
                return provider
        raise SecretStoreError(
            "No writable secret provider is configured ('env' is read-only).", advice=_PROVIDERS_ADVICE
        )


_PROVIDERS_ADVICE = (
    "Set ENTRA_SECRET_PROVIDERS to an ordered list among 'env', 'filesystem' (with ENTRA_SECRETS_DIR) and 'vault' "
    "(with ENTRA_VAULT_URL and ENTRA_VAULT_TOKEN); 'filesystem' or 'vault' is needed to store tenant secrets."
)


def _provider_kinds(value: str | Sequence[str]) -> list[str]:
    """Accepts a sequence or a comma-separated string (as read from an environment variable)."""
    raw = value.split(",") if isinstance(value, str) else list(value)
    kinds = [str(kind).strip().lower() for kind in raw if str(kind).strip()]
    unknown = [kind for kind in kinds if kind not in PROVIDER_KINDS]
    if unknown or not kinds or len(set(kinds)) != len(kinds):
        raise ConfigurationError(f"ENTRA_SECRET_PROVIDERS is invalid: {value!r}.", advice=_PROVIDERS_ADVICE)
    return kinds


def _build_provider(kind: str, setting: Callable[[str], Any]) -> SecretProvider:
    if kind == "env":
        return EnvSecretProvider()
    if kind == "filesystem":
        directory = setting("ENTRA_SECRETS_DIR")
        if not directory:
            raise ConfigurationError(
                "ENTRA_SECRET_PROVIDERS names 'filesystem' but ENTRA_SECRETS_DIR is not set.",
                advice="Set ENTRA_SECRETS_DIR to a directory only the service's user can read, or remove 'filesystem'.",
            )
        return FilesystemSecretProvider(directory)
    url = setting("ENTRA_VAULT_URL")
    if not url:
        raise ConfigurationError(
            "ENTRA_SECRET_PROVIDERS names 'vault' but ENTRA_VAULT_URL is not set.",
            advice="Set ENTRA_VAULT_URL (and ENTRA_VAULT_TOKEN, or VAULT_TOKEN in the environment), or remove 'vault'.",
        )
    return VaultSecretProvider(
        url,
        setting("ENTRA_VAULT_TOKEN"),
        mount=setting("ENTRA_VAULT_MOUNT"),
        path_prefix=setting("ENTRA_VAULT_PATH_PREFIX"),
    )
