"""The bundled SQLAlchemy host adapter, against real PostgreSQL and SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Boolean, DateTime, Engine, ForeignKey, String, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from flask_entra.errors import ConfigurationError, NotFound, ValidationFailed
from flask_entra.host import ContactUpdate, HostAdapter, NewContact
from flask_entra.sqlalchemy_adapter import SQLAlchemyHostAdapter
from tests.plugins.postgres import create_database, drop_database


class Base(DeclarativeBase):
    pass


class Client(Base):
    __tablename__ = "psa_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200))
    is_inactive: Mapped[bool] = mapped_column(Boolean, default=False)


class Contact(Base):
    __tablename__ = "psa_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("psa_clients.id"))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(50))
    job_title: Mapped[str | None] = mapped_column(String(200))
    is_inactive: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per-row Python defaults, as hosts commonly have: each created contact must get its own value.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: uuid.uuid4().hex)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


class TextIdContact(Base):
    """A host whose contact ids are application-made strings (no database default)."""

    __tablename__ = "psa_text_id_contacts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int] = mapped_column(ForeignKey("psa_clients.id"))
    name: Mapped[str] = mapped_column(String(200))
    mail: Mapped[str | None] = mapped_column(String(200))


@dataclass
class SessionHolder:
    """What the adapter needs from the host: an object exposing the session (Flask-SQLAlchemy's ``db`` in an app)."""

    session: Session


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = create_database("entra_adapter")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    else:
        url = ""
        engine = create_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('adapter')) / 'host.sqlite'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()
    if url:
        drop_database(url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after each test (the adapter never commits, so nothing leaks)."""
    with Session(engine) as session:
        yield session
        session.rollback()


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    executed: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        executed.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    yield executed
    event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def adapter(session: Session) -> SQLAlchemyHostAdapter:
    return SQLAlchemyHostAdapter(
        SessionHolder(session),
        client_model=Client,
        contact_model=Contact,
        client_domain_attrs=("website", "domain"),
        client_inactive_attr="is_inactive",
    )


def add_client(session: Session, tenant: str, name: str, **fields: object) -> str:
    client = Client(tenant=tenant, name=name, **fields)
    session.add(client)
    session.flush()
    return str(client.id)


def test_satisfies_the_host_contract(adapter: SQLAlchemyHostAdapter) -> None:
    assert isinstance(adapter, HostAdapter)


def test_create_contacts_is_one_insert_and_returns_ids_in_input_order(
    adapter: SQLAlchemyHostAdapter, session: Session, statements: list[str]
) -> None:
    client_id = add_client(session, "acme", "Contoso Ltd")
    new = [NewContact(client_id=client_id, full_name=f"User {i:03}", email=f"user{i}@contoso.com") for i in range(300)]
    statements.clear()

    ids = adapter.create_contacts("acme", new)

    assert statements.count("INSERT") == 1
    assert len(set(ids)) == 300
    by_id = {c.id: c for c in adapter.get_contacts("acme", ids)}
    assert [by_id[i].full_name for i in ids] == [c.full_name for c in new]
    assert all(not by_id[i].is_inactive and by_id[i].client_id == client_id for i in ids)
    public_ids = session.scalars(select(Contact.public_id).where(Contact.id.in_([int(i) for i in ids]))).all()
    assert len(set(public_ids)) == 300


def test_writes_stay_in_the_callers_transaction(adapter: SQLAlchemyHostAdapter, session: Session) -> None:
    client_id = add_client(session, "acme", "Fabrikam, Inc.")
    session.commit()
    [contact_id] = adapter.create_contacts("acme", [NewContact(client_id=client_id, full_name="Pat Kim")])
    session.rollback()
    assert adapter.get_contacts("acme", [contact_id]) == []
    session.execute(Client.__table__.delete().where(Client.id == int(client_id)))
    session.commit()


def test_updates_are_grouped_by_changed_columns(
    adapter: SQLAlchemyHostAdapter, session: Session, statements: list[str]
) -> None:
    client_id = add_client(session, "acme", "Northwind Traders")
    new = [NewContact(client_id=client_id, full_name=f"N {i}", phone="1", job_title="Clerk") for i in range(40)]
    ids = adapter.create_contacts("acme", new)
    updates = [ContactUpdate(i, {"job_title": "Manager"}) for i in ids[:20]]
    updates += [ContactUpdate(i, {"is_inactive": True, "phone": "2"}) for i in ids[20:]]
    statements.clear()

    adapter.update_contacts("acme", updates)

    assert statements.count("UPDATE") == 2
    contacts = {c.id: c for c in adapter.get_contacts("acme", ids)}
    assert {(contacts[i].job_title, contacts[i].phone, contacts[i].is_inactive) for i in ids[:20]} == {
        ("Manager", "1", False)
    }
    assert {(contacts[i].job_title, contacts[i].phone, contacts[i].is_inactive) for i in ids[20:]} == {
        ("Clerk", "2", True)
    }


def test_update_refuses_fields_outside_the_contract(adapter: SQLAlchemyHostAdapter, session: Session) -> None:
    client_id = add_client(session, "acme", "Litware")
    [contact_id] = adapter.create_contacts("acme", [NewContact(client_id=client_id, full_name="Lee Chen")])
    with pytest.raises(ValidationFailed):
        adapter.update_contacts("acme", [ContactUpdate(contact_id, {"client_id": "1"})])


def test_every_method_is_scoped_by_tenant(adapter: SQLAlchemyHostAdapter, session: Session) -> None:
    acme = add_client(session, "acme", "Contoso Ltd", website="https://www.contoso.com")
    globex = add_client(session, "globex", "Contoso Ltd", website="contoso.com")
    [acme_contact] = adapter.create_contacts(
        "acme", [NewContact(client_id=acme, full_name="Alex Smith", email="a.smith@contoso.com")]
    )
    adapter.create_contacts("globex", [NewContact(client_id=globex, full_name="Alex S.", email="a.smith@contoso.com")])

    assert [c.id for c in adapter.list_clients("globex")] == [globex]
    assert adapter.get_clients("globex", [acme]) == []
    assert [c.id for c in adapter.search_clients("globex", "contoso")] == [globex]
    assert adapter.load_contacts("globex", [acme]) == []
    assert adapter.get_contacts("globex", [acme_contact]) == []
    assert [c.client_id for c in adapter.find_contacts_by_email("globex", ["a.smith@contoso.com"])] == [globex]
    adapter.update_contacts("globex", [ContactUpdate(acme_contact, {"is_inactive": True, "full_name": "Hijacked"})])
    [unchanged] = adapter.get_contacts("acme", [acme_contact])
    assert (unchanged.full_name, unchanged.is_inactive) == ("Alex Smith", False)
    with pytest.raises(NotFound):
        adapter.create_contacts("globex", [NewContact(client_id=acme, full_name="Intruder")])
    assert len(adapter.load_contacts("acme", [acme])) == 1


def test_find_contacts_by_email_ignores_case_across_the_tenants_clients(
    adapter: SQLAlchemyHostAdapter, session: Session
) -> None:
    contoso = add_client(session, "acme", "Contoso Ltd")
    fabrikam = add_client(session, "acme", "Fabrikam, Inc.")
    adapter.create_contacts(
        "acme",
        [
            NewContact(client_id=contoso, full_name="Alex Smith", email="A.Smith@Contoso.com"),
            NewContact(client_id=fabrikam, full_name="Pat Kim", email="p.kim@fabrikam.com"),
            NewContact(client_id=fabrikam, full_name="No Mail"),
        ],
    )
    found = adapter.find_contacts_by_email("acme", ["a.smith@CONTOSO.COM", " P.Kim@Fabrikam.com ", "nobody@x.com"])
    assert sorted((c.full_name, c.client_id) for c in found) == [("Alex Smith", contoso), ("Pat Kim", fabrikam)]
    assert adapter.find_contacts_by_email("acme", []) == []


def test_bulk_reads_handle_lists_larger_than_one_parameter_list(
    adapter: SQLAlchemyHostAdapter, session: Session
) -> None:
    client_id = add_client(session, "acme", "Wide World Importers")
    emails = [f"person{i}@wideworldimporters.com" for i in range(4500)]
    ids = adapter.create_contacts("acme", [NewContact(client_id=client_id, full_name=e, email=e) for e in emails])
    assert len(adapter.find_contacts_by_email("acme", [e.upper() for e in emails])) == 4500
    assert len(adapter.get_contacts("acme", ids)) == 4500
    assert len(adapter.load_contacts("acme", [client_id])) == 4500


def test_list_clients_gives_own_domains_and_contact_email_domains(
    adapter: SQLAlchemyHostAdapter, session: Session
) -> None:
    contoso = add_client(session, "acme", "Contoso Ltd", website="https://www.contoso.com", domain="contoso.co.uk")
    tailspin = add_client(session, "acme", "Tailspin Toys", website="tailspintoys.com")
    add_client(session, "acme", "Old Client", website="old.example", is_inactive=True)
    adapter.create_contacts(
        "acme",
        [
            NewContact(client_id=contoso, full_name="A", email="a@Contoso.com"),
            NewContact(client_id=contoso, full_name="B", email="b@contoso.com"),
            NewContact(client_id=contoso, full_name="C", email="c@contoso.onmicrosoft.com"),
            NewContact(client_id=contoso, full_name="D", email="not-an-address"),
        ],
    )
    clients = {c.name: c for c in adapter.list_clients("acme")}

    assert sorted(clients) == ["Contoso Ltd", "Tailspin Toys"]
    assert clients["Contoso Ltd"].domains == ("https://www.contoso.com", "contoso.co.uk")
    assert clients["Contoso Ltd"].contact_domains == ("contoso.com", "contoso.onmicrosoft.com")
    assert clients["Tailspin Toys"].contact_domains == ()
    [fetched] = adapter.get_clients("acme", [tailspin])
    assert fetched == clients["Tailspin Toys"]


def test_search_clients_is_case_insensitive_literal_and_limited(
    adapter: SQLAlchemyHostAdapter, session: Session
) -> None:
    for name in ("Adventure Works Cycles", "Northwind Traders", "Wide World Importers", "100% Pure"):
        add_client(session, "acme", name)
    assert [c.name for c in adapter.search_clients("acme", "WORLD")] == ["Wide World Importers"]
    assert [c.name for c in adapter.search_clients("acme", "%")] == ["100% Pure"]
    assert [c.name for c in adapter.search_clients("acme", "_")] == []
    assert len(adapter.search_clients("acme", "", limit=2)) == 2


def test_ids_that_cannot_exist_match_nothing(adapter: SQLAlchemyHostAdapter) -> None:
    assert adapter.get_contacts("acme", ["abc", ""]) == []
    assert adapter.get_clients("acme", ["not-a-number"]) == []
    adapter.update_contacts("acme", [ContactUpdate("abc", {"full_name": "x"})])


def test_large_creates_are_written_in_batches_with_ids_still_in_input_order(
    session: Session, statements: list[str]
) -> None:
    adapter = SQLAlchemyHostAdapter(
        SessionHolder(session), client_model=Client, contact_model=Contact, create_batch_size=100
    )
    client_id = add_client(session, "acme", "Contoso Ltd")
    new = [NewContact(client_id=client_id, full_name=f"User {i:03}") for i in range(250)]
    statements.clear()

    ids = adapter.create_contacts("acme", new)

    assert statements.count("INSERT") == 3
    by_id = {c.id: c for c in adapter.get_contacts("acme", ids)}
    assert len(by_id) == 250 and [by_id[i].full_name for i in ids] == [c.full_name for c in new]


def test_a_create_batch_size_below_one_fails_at_construction(session: Session) -> None:
    with pytest.raises(ConfigurationError, match="create_batch_size"):
        SQLAlchemyHostAdapter(SessionHolder(session), client_model=Client, contact_model=Contact, create_batch_size=0)


def test_application_made_ids_need_an_id_factory(session: Session, statements: list[str]) -> None:
    holder = SessionHolder(session)
    mapping = {"full_name": "name", "email": "mail"}
    with pytest.raises(ConfigurationError, match="id_factory"):
        SQLAlchemyHostAdapter(
            holder, client_model=Client, contact_model=TextIdContact, contact_fields=mapping, contact_inactive_attr=None
        )
    adapter = SQLAlchemyHostAdapter(
        holder,
        client_model=Client,
        contact_model=TextIdContact,
        contact_fields=mapping,
        contact_inactive_attr=None,
        id_factory=lambda: uuid.uuid4().hex,
    )
    client_id = add_client(session, "acme", "Litware")
    statements.clear()
    ids = adapter.create_contacts("acme", [NewContact(client_id=client_id, full_name=f"L {i}") for i in range(5)])
    assert statements.count("INSERT") == 1
    assert [c.full_name for c in sorted(adapter.get_contacts("acme", ids), key=lambda c: ids.index(c.id))] == [
        f"L {i}" for i in range(5)
    ]
    assert session.scalar(select(func.count()).select_from(TextIdContact)) == 5


def test_misnamed_attributes_are_reported_at_construction(session: Session) -> None:
    with pytest.raises(ConfigurationError, match="Client.web_site"):
        SQLAlchemyHostAdapter(
            SessionHolder(session), client_model=Client, contact_model=Contact, client_domain_attrs=("web_site",)
        )
    with pytest.raises(ConfigurationError, match="unknown contact fields"):
        SQLAlchemyHostAdapter(
            SessionHolder(session), client_model=Client, contact_model=Contact, contact_fields={"title": "job_title"}
        )


def test_ids_that_cannot_be_keys_match_nothing(adapter: SQLAlchemyHostAdapter, session: Session) -> None:
    """Found by schemathesis: -17866201379 reached PostgreSQL as an INTEGER and turned a miss into a 500."""
    client = add_client(session, "acme", "Contoso Ltd")
    for bad in ("-17866201379", "2147483648", "abc", ""):
        assert adapter.get_clients("acme", [bad, client]) == adapter.get_clients("acme", [client])
        assert adapter.get_contacts("acme", [bad]) == []
