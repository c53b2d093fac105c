"""``flask --app example_host seed-demo``: two MSP tenants, their users, clients and contacts (idempotent).

Contacts of acme's clients share addresses with users of the simulator's demo customer tenants (for example
``megan.bowen@contoso.com``, ``isaiah.langer@fabrikam.com``), so a first sync links some contacts and creates others. Globex also has a "Contoso Ltd",
with the same contact address, for tenant-isolation checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from .models import Client, Contact, Tenant, User, db


@dataclass(frozen=True)
class DemoContact:
    full_name: str
    email: str
    job_title: str
    phone: str | None = None


@dataclass(frozen=True)
class DemoClient:
    name: str
    website: str
    contacts: tuple[DemoContact, ...]


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: str
    client_portal_of: str | None = None  # the client's name, for client-portal users


TENANTS: dict[str, str] = {"acme": "Acme Managed Services", "globex": "Globex IT Partners"}

# fmt: off
CLIENTS: dict[str, tuple[DemoClient, ...]] = {
    "acme": (
        DemoClient("Contoso Ltd", "https://www.contoso.com", (
            DemoContact("Alex Smith", "a.smith@contoso.com", "IT Manager", "+1 425 555 0101"),
            DemoContact("Megan Bowen", "megan.bowen@contoso.com", "Marketing Manager"),
            DemoContact("Front Desk", "reception@contoso.com", "Reception", "+1 425 555 0100"),
        )),
        DemoClient("Fabrikam, Inc.", "fabrikam.com", (
            DemoContact("Isaiah Langer", "isaiah.langer@fabrikam.com", "Chief Financial Officer"),
            DemoContact("Lee Chen", "lee.chen@fabrikam.com", "Office Manager", "+1 206 555 0142"),
        )),
        DemoClient("Northwind Traders", "northwindtraders.com", (
            DemoContact("Nestor Wilke", "nestor.wilke@northwindtraders.com", "Sales Representative"),
            DemoContact("Andrew Fuller", "a.fuller@northwindtraders.com", "Vice President, Sales"),
            DemoContact("Janet Leverling", "j.leverling@northwindtraders.com", "Sales Representative"),
        )),
        DemoClient("Tailspin Toys", "tailspintoys.com", (
            DemoContact("Maria Garcia", "m.garcia@tailspintoys.com", "Operations Lead"),
            DemoContact("Sam Taylor", "s.taylor@tailspintoys.com", "Buyer"),
        )),
        DemoClient("Wide World Importers", "wideworldimporters.com", (
            DemoContact("Kayla Woodcock", "kayla.woodcock@wideworldimporters.com", "Purchasing Officer"),
            DemoContact("Hudson Onslow", "hudson.onslow@wideworldimporters.com", "Warehouse Supervisor"),
        )),
        DemoClient("Adventure Works Cycles", "adventure-works.com", (
            DemoContact("Rob Walters", "rob.walters@adventure-works.com", "Engineering Manager"),
            DemoContact("Gail Erickson", "gail.erickson@adventure-works.com", "Design Engineer"),
            DemoContact("Jossef Goldberg", "jossef.goldberg@adventure-works.com", "Design Engineer"),
        )),
        DemoClient("Litware", "litware.com", (
            DemoContact("Allan Deyoung", "allan.deyoung@litware.com", "IT Director"),
            DemoContact("Diego Siciliani", "diego.siciliani@litware.com", "HR Manager"),
        )),
    ),
    "globex": (
        DemoClient("Initech", "initech.com", (
            DemoContact("Peter Gibbons", "p.gibbons@initech.com", "Software Engineer"),
            DemoContact("Bill Lumbergh", "b.lumbergh@initech.com", "Division Vice President"),
        )),
        DemoClient("Umbrella Corp", "umbrellacorp.com", (
            DemoContact("Alice Abernathy", "a.abernathy@umbrellacorp.com", "Security Lead"),
            DemoContact("Carlos Oliveira", "c.oliveira@umbrellacorp.com", "Facilities Manager"),
        )),
        DemoClient("Contoso Ltd", "contoso.com", (
            DemoContact("Alex Smith", "a.smith@contoso.com", "IT Manager"),
            DemoContact("Isaiah Langer", "isaiah.langer@contoso.com", "Sales Director"),
        )),
    ),
}
# fmt: on

USERS: dict[str, tuple[DemoUser, ...]] = {
    "acme": (
        DemoUser("admin@acme.test", "Ada Admin", "admin"),
        DemoUser("tech@acme.test", "Terry Tech", "technician"),
        DemoUser("staff@acme.test", "Sam Staff", "staff"),
        DemoUser("portal@client.acme.test", "Parker Portal", "staff", client_portal_of="Contoso Ltd"),
    ),
    "globex": (DemoUser("admin@globex.test", "Gloria Admin", "admin"),),
}


def seed_demo(password: str) -> dict[str, int]:
    """Create whatever part of the demo data is missing; returns how many rows of each kind were added."""
    added = {"tenants": 0, "clients": 0, "contacts": 0, "users": 0}
    for slug, name in TENANTS.items():
        tenant = db.session.get(Tenant, slug)
        if tenant is None:
            db.session.add(Tenant(slug=slug, name=name))
            added["tenants"] += 1
        db.session.flush()
        clients = {client.name: _seed_client(slug, client, added) for client in CLIENTS[slug]}
        for demo_user in USERS[slug]:
            _seed_user(slug, demo_user, password, clients, added)
    db.session.commit()
    return added


def _seed_client(tenant: str, demo: DemoClient, added: dict[str, int]) -> Client:
    client = db.session.scalar(select(Client).where(Client.tenant == tenant, Client.name == demo.name))
    if client is None:
        client = Client(tenant=tenant, name=demo.name, website=demo.website)
        db.session.add(client)
        db.session.flush()
        added["clients"] += 1
    existing = set(
        db.session.scalars(
            select(func.lower(Contact.email)).where(Contact.tenant == tenant, Contact.client_id == client.id)
        )
    )
    for contact in demo.contacts:
        if contact.email.lower() not in existing:
            db.session.add(
                Contact(
                    tenant=tenant,
                    client_id=client.id,
                    full_name=contact.full_name,
                    email=contact.email,
                    job_title=contact.job_title,
                    phone=contact.phone,
                )
            )
            added["contacts"] += 1
    return client


def _seed_user(tenant: str, demo: DemoUser, password: str, clients: dict[str, Client], added: dict[str, int]) -> None:
    user = db.session.scalar(select(User).where(User.email == demo.email))
    if user is None:
        user = User(email=demo.email, password_hash="")
        db.session.add(user)
        added["users"] += 1
    user.tenant = tenant
    user.full_name = demo.full_name
    user.role = demo.role
    user.is_client_portal = demo.client_portal_of is not None
    user.client_id = clients[demo.client_portal_of].id if demo.client_portal_of else None
    if not user.password_hash or not user.check_password(password):
        user.set_password(password)


@click.command("seed-demo")
@click.option("--password", default="demo", show_default=True, help="Password of every demo user.")
@with_appcontext
def seed_demo_command(password: str) -> None:
    """Seed the demo tenants acme and globex (safe to run again)."""
    try:
        added = seed_demo(password)
    except (OperationalError, ProgrammingError) as exc:
        db.session.rollback()
        raise click.ClickException(
            "The PSA's tables are missing or out of date: run `flask --app example_host db upgrade` first."
        ) from exc
    summary = ", ".join(f"{count} {kind}" for kind, count in added.items())
    click.echo(f"Demo data ready (added {summary}). Sign in as admin@acme.test.")
