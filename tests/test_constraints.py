"""The database itself refuses the states DESIGN.md forbids, whatever the code above it does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flask_entra import Entra, migrate
from flask_entra.models import Connection, ContactLink, ReconciliationItem, TenantMapping


@pytest.fixture(scope="module")
def session(pg_url: str) -> Iterator[Session]:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=pg_url, SECRET_KEY="x")
    db = SQLAlchemy(app)
    Entra(app)
    migrate.upgrade(app)
    with app.app_context():
        yield db.session
        db.session.rollback()
        db.engine.dispose()


def refused(session: Session, *rows: object) -> bool:
    session.add_all(rows)
    try:
        session.flush()
    except IntegrityError:
        return True
    finally:
        session.rollback()
    return False


def link(**kw: object) -> ContactLink:
    base = dict(
        tenant="acme",
        entra_tenant_id="t1",
        entra_object_id="u1",
        client_id="c1",
        contact_id="k1",
        link_reason="created",
        active=True,
    )
    return ContactLink(**{**base, **kw})


def test_second_active_connection_is_refused(session: Session) -> None:
    assert refused(
        session,
        Connection(tenant="acme", connection_type="direct", status="active"),
        Connection(tenant="acme", connection_type="cipp", status="active"),
    )
    assert not refused(
        session,
        Connection(tenant="acme", connection_type="direct", status="active"),
        Connection(tenant="acme", connection_type="cipp", status="disconnected"),
        Connection(tenant="globex", connection_type="cipp", status="active"),
    )


def test_second_active_mapping_for_a_microsoft_tenant_is_refused(session: Session) -> None:
    def mapping(client: str, active: bool = True) -> TenantMapping:
        return TenantMapping(
            tenant="acme", entra_tenant_id="t1", state="mapped", client_id=client, reason="manual", active=active
        )

    assert refused(session, mapping("c1"), mapping("c2"))
    assert not refused(session, mapping("c1", active=False), mapping("c2"))


def test_duplicate_link_identity_is_refused(session: Session) -> None:
    assert refused(session, link(), link(contact_id="k2", active=False))
    assert not refused(session, link(), link(tenant="globex"))


def test_contact_with_two_active_links_is_refused(session: Session) -> None:
    assert refused(session, link(), link(entra_object_id="u2"))
    assert not refused(session, link(), link(entra_object_id="u2", active=False))


def test_one_open_review_item_per_identity(session: Session) -> None:
    def item(status: str) -> ReconciliationItem:
        return ReconciliationItem(
            tenant="acme",
            entra_tenant_id="t1",
            entra_object_id="u1",
            client_id="c1",
            reason="multiple_candidates",
            status=status,
        )

    assert refused(session, item("open"), item("open"))
    assert not refused(session, item("dismissed"), item("open"))
