"""The example PSA host: sign-in, CSRF, tenant scoping, the embedded Entra surfaces, its migrations and demo seed."""

from __future__ import annotations

from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import func, select

from example_host import create_app
from example_host.models import Client, Contact, Tenant, User, db
from flask_entra import migrate as entra_migrate
from flask_entra.models import ManagedTenantRow, TenantMapping
from tests.plugins.host import csrf_from, set_all_flags, sign_in


def client_id(app: Flask, tenant: str, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Client.id).where(Client.tenant == tenant, Client.name == name))


def test_sign_in_opens_the_tenants_clients(ee_app: Flask) -> None:
    page = sign_in(ee_app, "admin@acme.test").client.get("/clients")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Contoso Ltd" in html and "Northwind Traders" in html
    assert "Initech" not in html  # globex's client


def test_wrong_password_is_refused(ee_app: Flask) -> None:
    browser = ee_app.test_client()
    token = csrf_from(browser.get("/login").get_data(as_text=True))
    response = browser.post("/login", data={"email": "admin@acme.test", "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "incorrect" in response.get_data(as_text=True)
    assert browser.get("/clients").status_code == 302  # still signed out: sent to the login page


def test_sign_in_without_csrf_token_is_refused(ee_app: Flask) -> None:
    browser = ee_app.test_client()
    browser.get("/login")
    response = browser.post("/login", data={"email": "admin@acme.test", "password": "demo"})
    assert response.status_code == 400
    assert browser.get("/clients").status_code == 302


def test_sign_out_needs_a_post_with_csrf(ee_app: Flask) -> None:
    session = sign_in(ee_app, "tech@acme.test")
    assert session.client.post("/logout").status_code == 400
    assert session.client.get("/clients").status_code == 200
    assert session.client.post("/logout", data={"csrf_token": session.csrf}).status_code == 302
    assert session.client.get("/clients").status_code == 302


def test_client_page_shows_the_client_and_its_contacts(ee_app: Flask) -> None:
    contoso = client_id(ee_app, "acme", "Contoso Ltd")
    html = sign_in(ee_app, "staff@acme.test").client.get(f"/clients/{contoso}").get_data(as_text=True)
    assert "Contoso Ltd" in html and "https://www.contoso.com" in html
    assert "a.smith@contoso.com" in html and "Megan Bowen" in html


def test_another_tenants_client_is_not_found(ee_app: Flask) -> None:
    acme_contoso = client_id(ee_app, "acme", "Contoso Ltd")
    globex_contoso = client_id(ee_app, "globex", "Contoso Ltd")
    other_admin = sign_in(ee_app, "admin@globex.test").client
    assert other_admin.get(f"/clients/{acme_contoso}").status_code == 404
    assert other_admin.get(f"/clients/{globex_contoso}").status_code == 200
    contact = _first_contact_id(ee_app, acme_contoso)
    path = f"/clients/{acme_contoso}/contacts/{contact}/active"
    assert sign_in(ee_app, "admin@globex.test").open("POST", path).status_code == 404


def test_client_portal_users_only_get_the_portal(ee_app: Flask) -> None:
    portal = sign_in(ee_app, "portal@client.acme.test").client
    assert portal.get("/").location == "/portal"
    page = portal.get("/portal")
    assert page.status_code == 200 and "Contoso Ltd" in page.get_data(as_text=True)
    contoso = client_id(ee_app, "acme", "Contoso Ltd")
    for path in ("/clients", f"/clients/{contoso}", "/settings/integrations"):
        assert portal.get(path).status_code == 403, path


def test_integrations_settings_need_read_permission(ee_app: Flask) -> None:
    assert sign_in(ee_app, "staff@acme.test").client.get("/settings/integrations").status_code == 403
    assert sign_in(ee_app, "tech@acme.test").client.get("/settings/integrations").status_code == 200


def test_pages_embed_the_entra_surfaces_only_where_allowed(ee_app: Flask, ce_app: Flask) -> None:
    contoso = client_id(ee_app, "acme", "Contoso Ltd")
    with ee_app.app_context():
        db.session.add(ManagedTenantRow(tenant="acme", entra_tenant_id="contoso-tenant", display_name="Contoso"))
        db.session.add(
            TenantMapping(
                tenant="acme",
                entra_tenant_id="contoso-tenant",
                state="mapped",
                client_id=str(contoso),
                reason="manual",
                decided_by="test",
            )
        )
        db.session.commit()
    set_all_flags(ee_app, True)
    try:
        admin = sign_in(ee_app, "admin@acme.test").client
        assert "Sync Entra Now" in admin.get(f"/clients/{contoso}").get_data(as_text=True)
        assert "Microsoft Entra" in admin.get("/settings/integrations").get_data(as_text=True)
        staff = sign_in(ee_app, "staff@acme.test").client
        assert "Sync Entra Now" not in staff.get(f"/clients/{contoso}").get_data(as_text=True)
        community_admin = sign_in(ce_app, "admin@acme.test").client
        assert "Sync Entra Now" not in community_admin.get(f"/clients/{contoso}").get_data(as_text=True)
        assert "Microsoft Entra" not in community_admin.get("/settings/integrations").get_data(as_text=True)
    finally:
        set_all_flags(ee_app, False)
    assert "Sync Entra Now" not in admin.get(f"/clients/{contoso}").get_data(as_text=True)


def test_adding_a_contact_stays_in_the_users_tenant(ee_app: Flask) -> None:
    fabrikam = client_id(ee_app, "acme", "Fabrikam, Inc.")
    session = sign_in(ee_app, "staff@acme.test")
    form = {"full_name": "Dana Lee", "email": "dana.lee@fabrikam.com", "csrf_token": session.csrf}
    assert session.client.post(f"/clients/{fabrikam}", data=form).status_code == 302
    with ee_app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.email == "dana.lee@fabrikam.com"))
        assert (contact.tenant, contact.client_id) == ("acme", fabrikam)


def test_seed_demo_is_idempotent(ee_app: Flask) -> None:
    before = _row_counts(ee_app)
    result = ee_app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "added 0 tenants, 0 clients, 0 contacts, 0 users" in result.output
    assert _row_counts(ee_app) == before


def test_demo_users_have_the_documented_permissions(ee_app: Flask) -> None:
    with ee_app.app_context():
        users = {u.email: u for u in db.session.scalars(select(User))}
        assert users["admin@acme.test"].permissions == {"system_settings:read", "system_settings:update"}
        assert users["tech@acme.test"].permissions == {"system_settings:read"}
        assert users["staff@acme.test"].permissions == frozenset()
        portal = users["portal@client.acme.test"]
        assert portal.is_client_portal and portal.permissions == frozenset() and portal.client.name == "Contoso Ltd"
        assert (users["admin@globex.test"].tenant, users["admin@acme.test"].tenant) == ("globex", "acme")


def test_sqlite_demo_database_from_migrations(tmp_path: Path) -> None:
    """The default embedded database: the host's migration, ours, the seed, then a sign-in."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'psa.sqlite'}",
            "EDITION": "enterprise",
            "SECRET_KEY": "test",
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
    entra_migrate.upgrade(app)
    assert app.test_cli_runner().invoke(args=["seed-demo", "--password", "s3cret"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Tenant)) == 2
    assert sign_in(app, "admin@acme.test", password="s3cret").client.get("/clients").status_code == 200
    app.extensions["entra"].close()


def test_settings_come_from_the_environment_without_a_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDITION", "enterprise")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("MICROSOFT_CLIENT_ID", "app-id")
    monkeypatch.setenv("ENTRA_LOGIN_BASE_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("ENTRA_HTTP_MAX_RETRIES", "2")
    monkeypatch.setenv("ENTRA_SECRET_PROVIDERS", "env, filesystem")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert (app.config["SECRET_KEY"], app.config["MICROSOFT_CLIENT_ID"]) == ("from-env", "app-id")
    assert app.config["ENTRA_LOGIN_BASE_URL"] == "http://127.0.0.1:9999"
    assert app.config["ENTRA_HTTP_MAX_RETRIES"] == 2
    assert app.config["ENTRA_SECRET_PROVIDERS"] == ("env", "filesystem")
    assert app.extensions["entra"].enterprise
    app.extensions["entra"].close()


def _first_contact_id(app: Flask, client: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.min(Contact.id)).where(Contact.client_id == client))


def _row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
            for m in (Tenant, Client, Contact, User)
        }
