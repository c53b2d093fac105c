"""The PSA's own tables (managed by its Flask-Migrate history in ``example_host/migrations``).

Every tenant-owned table carries the MSP tenant's slug; contacts and client-portal users reference their client through
``(tenant, client_id)``, so the database itself refuses a row that points into another tenant.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    MetaData,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from flask_entra.host import READ, UPDATE

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("admin", "technician", "staff")
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({READ, UPDATE}),
    "technician": frozenset({READ}),
    "staff": frozenset(),
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


class Tenant(db.Model):  # type: ignore[name-defined,misc]
    """An MSP using the PSA."""

    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Client(db.Model):  # type: ignore[name-defined,misc]
    """A customer company of an MSP tenant."""

    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("tenant", "id"),
        Index("ix_clients_tenant_name", "tenant", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.slug"))
    name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255))
    is_inactive: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="client", order_by="(Contact.is_inactive, Contact.full_name)"
    )


class Contact(db.Model):  # type: ignore[name-defined,misc]
    """A person at a client; flask-entra links and creates these through its host adapter."""

    __tablename__ = "contacts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant", "client_id"], ["clients.tenant", "clients.id"]),
        Index("ix_contacts_tenant_client", "tenant", "client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.slug"))
    client_id: Mapped[int]
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(50))
    job_title: Mapped[str | None] = mapped_column(String(200))
    is_inactive: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    client: Mapped[Client] = relationship(back_populates="contacts")


# Email look-ups (sign-in matching, the Entra sync) are case-insensitive.
Index("ix_contacts_tenant_email", Contact.tenant, func.lower(Contact.email))


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A person who signs in: an MSP's internal user with a role, or a client-portal user of one client."""

    __tablename__ = "users"
    __table_args__ = (ForeignKeyConstraint(["tenant", "client_id"], ["clients.tenant", "clients.id"]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.slug"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="staff")
    is_client_portal: Mapped[bool] = mapped_column(Boolean, default=False)
    client_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    client: Mapped[Client | None] = relationship()

    @property
    def permissions(self) -> frozenset[str]:
        """Derived from the role; a client-portal user never holds an internal permission."""
        return frozenset() if self.is_client_portal else ROLE_PERMISSIONS.get(self.role, frozenset())

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
