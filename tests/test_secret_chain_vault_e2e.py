"""The Direct connection with Vault as the only secret provider, against a real OpenBao dev server: the refresh token
is written to Vault by the OAuth callback, read back by what a sync worker builds, and destroyed by a disconnect."""

from __future__ import annotations

from pathlib import Path

import hvac
import pytest
from hvac.exceptions import InvalidPath

from flask_entra.secrets import names
from tests.plugins.connect_flows import API, DISCOVER_PAGE, ConnectWorld, flash_after, partner_sign_in
from tests.plugins.openbao import OpenBao


def vault_entry(world: ConnectWorld) -> str:
    """The refresh token's KV v2 path, as an operator would look it up in Vault."""
    prefix = world.app.config["ENTRA_VAULT_PATH_PREFIX"]
    return f"{prefix}/tenants/acme/{names.DIRECT_REFRESH_TOKEN}"


def test_direct_connect_keeps_the_refresh_token_in_vault_until_disconnect(
    fresh_vault_connect_world: ConnectWorld, openbao: OpenBao
) -> None:
    world = fresh_vault_connect_world
    kv = hvac.Client(url=openbao.url, token=openbao.token).secrets.kv.v2
    admin = world.admin()

    flash_after(admin, admin.client.get(partner_sign_in(admin)), DISCOVER_PAGE)

    stored = kv.read_secret_version(path=vault_entry(world), mount_point="secret", raise_on_deleted_version=True)
    token = stored["data"]["data"]["value"]
    assert token and token == world.secret(names.DIRECT_REFRESH_TOKEN)
    assert token not in world.database_text()
    assert not list(Path(world.app.config["ENTRA_SECRETS_DIR"]).rglob("*"))  # nothing fell back to files

    # The sync side: a provider built from the stored connection reads the token from Vault and lists customers.
    tenants = world.sync_side_provider().list_managed_tenants()
    expected = {c["tenantId"] for c in world.sim.dataset()["customers"]}
    assert tenants and {t.entra_tenant_id for t in tenants} <= expected
    # Microsoft rotated the refresh token on that read: the worker wrote the new one back to Vault.
    rotated = kv.read_secret_version(path=vault_entry(world), mount_point="secret", raise_on_deleted_version=True)
    assert rotated["data"]["metadata"]["version"] == 2 and rotated["data"]["data"]["value"] != token

    assert admin.open("POST", f"{API}/disconnect", json={}).status_code == 200
    with pytest.raises(InvalidPath):  # every version and the metadata: nothing to undelete
        kv.read_secret_metadata(path=vault_entry(world), mount_point="secret")
    assert world.secret(names.DIRECT_REFRESH_TOKEN) is None
