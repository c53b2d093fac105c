"""The secret chain against a real OpenBao dev server and a real directory."""

from __future__ import annotations

import logging
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import pytest
from hvac import exceptions as vault_errors

from flask_entra.errors import ConfigurationError, SecretStoreError, ValidationFailed
from flask_entra.secrets import (
    CIPP_CLIENT_ID,
    CIPP_CLIENT_SECRET,
    CIPP_SECRET_NAMES,
    CIPP_TENANT_ID,
    DIRECT_REFRESH_TOKEN,
    MICROSOFT_CLIENT_ID,
    MICROSOFT_CLIENT_SECRET,
    MICROSOFT_TENANT_ID,
    REDACTED,
    SecretChain,
    redact_log_handlers,
)
from tests.plugins.openbao import OpenBao, free_port

ChainFactory = Callable[..., SecretChain]


def new_value() -> str:
    return f"s3cr3t-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def no_host_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's real MICROSOFT_* variables must not leak into what these tests read."""
    for name in (MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET, MICROSOFT_TENANT_ID):
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    return tmp_path / "secrets"  # not created: the provider makes it


@pytest.fixture
def vault_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"  # each test its own subtree of the session's server


@pytest.fixture
def vault(openbao: OpenBao) -> Any:
    """A direct hvac KV v2 client: how an operator (or a test) provisions Vault outside flask-entra."""
    return hvac.Client(url=openbao.url, token=openbao.token).secrets.kv.v2


@pytest.fixture
def make_chain(openbao: OpenBao, secrets_dir: Path, vault_prefix: str) -> ChainFactory:
    def build(*kinds: str, **overrides: Any) -> SecretChain:
        config = {
            "ENTRA_SECRET_PROVIDERS": kinds,
            "ENTRA_SECRETS_DIR": str(secrets_dir),
            "ENTRA_VAULT_URL": openbao.url,
            "ENTRA_VAULT_TOKEN": openbao.token,
            "ENTRA_VAULT_PATH_PREFIX": vault_prefix,
            **overrides,
        }
        return SecretChain.from_config(config)

    return build


def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_app_secrets_are_read_in_the_configured_order(
    make_chain: ChainFactory, secrets_dir: Path, vault: Any, vault_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_env, in_file, in_vault = new_value(), new_value(), new_value()
    monkeypatch.setenv("MICROSOFT_CLIENT_SECRET", in_env)
    write_file(secrets_dir / "microsoft_client_secret", in_file + "\n")  # written by hand: the newline is not secret
    vault.create_or_update_secret(path=f"{vault_prefix}/app/microsoft_client_secret", secret={"value": in_vault})

    assert make_chain("env", "filesystem", "vault").get_app_secret(MICROSOFT_CLIENT_SECRET) == in_env
    assert make_chain("vault", "filesystem", "env").get_app_secret(MICROSOFT_CLIENT_SECRET) == in_vault
    assert make_chain("filesystem", "vault", "env").get_app_secret(MICROSOFT_CLIENT_SECRET) == in_file

    monkeypatch.setenv("MICROSOFT_CLIENT_SECRET", "")  # an empty variable counts as unset: the next provider answers
    assert make_chain("env", "filesystem", "vault").get_app_secret(MICROSOFT_CLIENT_SECRET) == in_file
    (secrets_dir / "microsoft_client_secret").unlink()
    assert make_chain("env", "filesystem", "vault").get_app_secret(MICROSOFT_CLIENT_SECRET) == in_vault


def test_app_secrets_keep_the_hosts_names_in_every_provider(
    make_chain: ChainFactory, secrets_dir: Path, vault: Any, vault_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id, tenant_id, client_secret = new_value(), new_value(), new_value()
    monkeypatch.setenv("MICROSOFT_CLIENT_ID", client_id)
    write_file(secrets_dir / "microsoft_tenant_id", tenant_id)
    vault.create_or_update_secret(path=f"{vault_prefix}/app/microsoft_client_secret", secret={"value": client_secret})
    chain = make_chain("env", "filesystem", "vault")

    assert chain.require_app_secret("microsoft_client_id") == client_id
    assert chain.require_app_secret("microsoft_tenant_id") == tenant_id
    assert chain.require_app_secret("microsoft_client_secret") == client_secret


def test_a_missing_app_secret_tells_the_operator_every_place_to_set_it(
    make_chain: ChainFactory, secrets_dir: Path, vault_prefix: str
) -> None:
    chain = make_chain("env", "filesystem", "vault")
    assert chain.get_app_secret(MICROSOFT_CLIENT_SECRET) is None

    with pytest.raises(ConfigurationError) as raised:
        chain.require_app_secret(MICROSOFT_CLIENT_SECRET)
    advice = raised.value.advice or ""
    assert "MICROSOFT_CLIENT_SECRET" in advice
    assert str(secrets_dir / "microsoft_client_secret") in advice
    assert f"secret/{vault_prefix}/app/microsoft_client_secret" in advice


@pytest.mark.parametrize(
    ("order", "written_to"),
    [(("env", "filesystem", "vault"), "filesystem"), (("env", "vault", "filesystem"), "vault")],
)
def test_writes_go_to_the_first_writable_provider(
    make_chain: ChainFactory, order: tuple[str, ...], written_to: str
) -> None:
    value = new_value()
    make_chain(*order).set("acme", DIRECT_REFRESH_TOKEN, value)

    assert make_chain(written_to).get("acme", DIRECT_REFRESH_TOKEN) == value
    other = "vault" if written_to == "filesystem" else "filesystem"
    assert make_chain(other).get("acme", DIRECT_REFRESH_TOKEN) is None


def test_env_is_read_only_and_serves_tenant_secrets(make_chain: ChainFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    value = new_value()
    monkeypatch.setenv("ENTRA_SECRET_ACME_1__ENTRA_CIPP_CLIENT_SECRET", value)
    env_only = make_chain("env")

    assert env_only.get("acme-1", CIPP_CLIENT_SECRET) == value
    with pytest.raises(SecretStoreError) as raised:
        env_only.set("acme-1", CIPP_CLIENT_SECRET, new_value())
    assert "filesystem" in (raised.value.advice or "")
    with pytest.raises(SecretStoreError):
        env_only.delete("acme-1", CIPP_CLIENT_SECRET)

    # With a writable provider behind it, a delete reaches that provider and leaves the operator's variable alone.
    chain = make_chain("env", "filesystem")
    chain.delete("acme-1", CIPP_CLIENT_SECRET)
    assert chain.get("acme-1", CIPP_CLIENT_SECRET) == value


def test_secret_files_are_private_and_written_whole(make_chain: ChainFactory, secrets_dir: Path) -> None:
    value = new_value()
    make_chain("filesystem").set("acme", CIPP_CLIENT_SECRET, value)

    secret_file = secrets_dir / "tenants" / "acme" / "entra_cipp_client_secret"
    assert secret_file.read_text() == value
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    for directory in (secrets_dir, secrets_dir / "tenants", secrets_dir / "tenants" / "acme"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert [p.name for p in secret_file.parent.iterdir()] == ["entra_cipp_client_secret"]  # no temporary file left


@pytest.mark.parametrize("store", ["filesystem", "vault"])
def test_rotation_overwrites_the_secret(make_chain: ChainFactory, store: str) -> None:
    chain = make_chain("env", store)
    first, rotated = new_value(), new_value()
    chain.set("acme", DIRECT_REFRESH_TOKEN, first)
    chain.set("acme", DIRECT_REFRESH_TOKEN, rotated)

    assert chain.get("acme", DIRECT_REFRESH_TOKEN) == rotated
    assert make_chain(store).get("acme", DIRECT_REFRESH_TOKEN) == rotated  # a fresh process sees the rotation too


@pytest.mark.parametrize("store", ["filesystem", "vault"])
def test_delete_many_removes_only_the_named_secrets(make_chain: ChainFactory, store: str) -> None:
    chain = make_chain("env", store)
    refresh_token = new_value()
    chain.set("acme", DIRECT_REFRESH_TOKEN, refresh_token)
    for name in CIPP_SECRET_NAMES:
        chain.set("acme", name, new_value())

    chain.delete_many("acme", CIPP_SECRET_NAMES)
    chain.delete_many("acme", CIPP_SECRET_NAMES)  # deleting what is gone is fine (a retried disconnect)

    assert [chain.get("acme", name) for name in CIPP_SECRET_NAMES] == [None, None, None]
    assert chain.get("acme", DIRECT_REFRESH_TOKEN) == refresh_token
    chain.delete("acme", DIRECT_REFRESH_TOKEN)
    assert chain.get("acme", DIRECT_REFRESH_TOKEN) is None


def test_a_deleted_vault_secret_keeps_no_recoverable_version(
    make_chain: ChainFactory, vault: Any, vault_prefix: str
) -> None:
    chain = make_chain("vault")
    chain.set("acme", DIRECT_REFRESH_TOKEN, new_value())
    chain.set("acme", DIRECT_REFRESH_TOKEN, new_value())
    chain.delete("acme", DIRECT_REFRESH_TOKEN)

    with pytest.raises(vault_errors.InvalidPath):
        vault.read_secret_metadata(path=f"{vault_prefix}/tenants/acme/{DIRECT_REFRESH_TOKEN}")


@pytest.mark.parametrize("store", ["filesystem", "vault"])
def test_a_tenant_never_reads_another_tenants_secret(make_chain: ChainFactory, store: str) -> None:
    chain = make_chain("env", store)
    secret_of_a = new_value()
    chain.set("tenant-a", CIPP_CLIENT_SECRET, secret_of_a)

    assert chain.get("tenant-b", CIPP_CLIENT_SECRET) is None
    secret_of_b = new_value()
    chain.set("tenant-b", CIPP_CLIENT_SECRET, secret_of_b)
    chain.delete("tenant-b", CIPP_CLIENT_SECRET)
    assert chain.get("tenant-a", CIPP_CLIENT_SECRET) == secret_of_a


def test_env_tenant_secrets_never_collide_between_tenants(
    make_chain: ChainFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = new_value()
    monkeypatch.setenv("ENTRA_SECRET_ACME_1__ENTRA_CIPP_TENANT_ID", value)
    chain = make_chain("env")

    assert chain.get("acme-1", CIPP_TENANT_ID) == value
    # These ids would upper-case onto the same variable; only the unambiguous lowercase form has an env form.
    assert chain.get("acme_1", CIPP_TENANT_ID) is None
    assert chain.get("ACME-1", CIPP_TENANT_ID) is None
    # A tenant whose id ends like a name prefix cannot reach another tenant's variable either ("__" separates them).
    monkeypatch.setenv("ENTRA_SECRET_ACME__ENTRA_CIPP_CLIENT_ID", value)
    assert chain.get("acme-entra", "cipp_client_id") is None


@pytest.mark.parametrize("tenant", ["..", "../other", "a/b", "a\\b", "", ".hidden", "a\x00b", "x" * 200])
def test_a_tenant_that_could_escape_its_directory_is_refused(
    make_chain: ChainFactory, secrets_dir: Path, tenant: str
) -> None:
    chain = make_chain("filesystem", "vault")
    with pytest.raises(ValidationFailed):
        chain.set(tenant, DIRECT_REFRESH_TOKEN, new_value())
    with pytest.raises(ValidationFailed):
        chain.get(tenant, DIRECT_REFRESH_TOKEN)
    assert not secrets_dir.exists()  # nothing was written anywhere


@pytest.mark.parametrize("name", ["../microsoft_client_secret", "a/b", "Upper", "double__underscore", "", "."])
def test_a_name_that_could_escape_its_directory_is_refused(make_chain: ChainFactory, name: str) -> None:
    chain = make_chain("filesystem")
    with pytest.raises(ValidationFailed):
        chain.get("acme", name)
    with pytest.raises(ValidationFailed):
        chain.get_app_secret(name)
    with pytest.raises(ValidationFailed):
        chain.delete_many("acme", [CIPP_CLIENT_ID, name])


def test_a_secret_passed_as_a_name_by_mistake_is_not_echoed(make_chain: ChainFactory) -> None:
    value = "Sup3r/Secret+Value"
    with pytest.raises(ValidationFailed) as raised:
        make_chain("filesystem").set("acme", value, DIRECT_REFRESH_TOKEN)  # arguments swapped
    assert value not in str(raised.value)


def test_vault_down_is_a_secret_store_error_with_advice(openbao: OpenBao, make_chain: ChainFactory) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    chain = make_chain("filesystem", "vault", ENTRA_VAULT_URL=down)

    with pytest.raises(SecretStoreError) as read_error:
        chain.get("acme", DIRECT_REFRESH_TOKEN)
    assert "unreachable" in read_error.value.message
    assert down in read_error.value.message
    assert "ENTRA_VAULT_URL" in (read_error.value.advice or "")
    assert read_error.value.status == 503

    value = new_value()
    with pytest.raises(SecretStoreError) as write_error:
        make_chain("vault", ENTRA_VAULT_URL=down).set("acme", DIRECT_REFRESH_TOKEN, value)
    for error in (read_error.value, write_error.value):
        assert openbao.token not in str(error)
        assert openbao.token not in repr(error)
    assert value not in str(write_error.value)


def test_a_refused_vault_token_is_reported_without_the_token(make_chain: ChainFactory) -> None:
    wrong_token = f"hvs.{uuid.uuid4().hex}"
    with pytest.raises(SecretStoreError) as raised:
        make_chain("vault", ENTRA_VAULT_TOKEN=wrong_token).get_app_secret(MICROSOFT_CLIENT_SECRET)
    assert "refused the token" in raised.value.message
    assert "ENTRA_VAULT_TOKEN" in (raised.value.advice or "")
    assert wrong_token not in str(raised.value)


def test_a_wrong_vault_mount_is_an_error_not_a_missing_secret(make_chain: ChainFactory) -> None:
    with pytest.raises(SecretStoreError) as raised:
        make_chain("vault", ENTRA_VAULT_MOUNT="no-such-mount").get("acme", DIRECT_REFRESH_TOKEN)
    assert "ENTRA_VAULT_MOUNT" in (raised.value.advice or "")


def test_misconfigured_providers_fail_with_advice(make_chain: ChainFactory) -> None:
    with pytest.raises(ConfigurationError):
        make_chain("env", "keychain")
    with pytest.raises(ConfigurationError) as no_dir:
        make_chain("filesystem", ENTRA_SECRETS_DIR=None)
    assert "ENTRA_SECRETS_DIR" in str(no_dir.value)
    with pytest.raises(ConfigurationError) as no_url:
        make_chain("vault", ENTRA_VAULT_URL=None)
    assert "ENTRA_VAULT_URL" in str(no_url.value)
    # A comma-separated string, as read from an environment variable, is accepted.
    assert [p.kind for p in make_chain(ENTRA_SECRET_PROVIDERS="env, vault").providers] == ["env", "vault"]


def test_secret_values_never_reach_a_log_line(
    make_chain: ChainFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    written, read_from_env = new_value(), new_value()
    monkeypatch.setenv("MICROSOFT_CLIENT_SECRET", read_from_env)
    chain = make_chain("env", "filesystem")
    chain.set("acme", DIRECT_REFRESH_TOKEN, written)
    assert chain.get_app_secret(MICROSOFT_CLIENT_SECRET) == read_from_env
    redact_log_handlers()

    logger = logging.getLogger("some.library.child")  # propagates to the root handlers
    logger.warning("refreshing with %s", written)
    logger.warning(f"client secret is {read_from_env}")
    try:
        raise RuntimeError(f"token endpoint said no to {written}")
    except RuntimeError:
        logger.exception("refresh failed")

    assert written not in caplog.text and read_from_env not in caplog.text
    assert caplog.text.count(REDACTED) >= 3
    assert "refreshing with [redacted]" in caplog.text
    assert "RuntimeError: token endpoint said no to [redacted]" in caplog.text
    assert all(written not in record.getMessage() for record in caplog.records)


def test_the_redaction_filter_leaves_ordinary_records_alone(
    make_chain: ChainFactory, caplog: pytest.LogCaptureFixture
) -> None:
    make_chain("filesystem").set("acme", DIRECT_REFRESH_TOKEN, new_value())
    redact_log_handlers()
    logging.getLogger("flask_entra.test").warning("synced %d contacts of %s", 12, "acme")

    assert caplog.records[0].getMessage() == "synced 12 contacts of acme"
    assert caplog.records[0].args == (12, "acme")
