"""The PSA's pages. Every query is filtered by the signed-in user's tenant; client-portal users only get the portal."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, select
from werkzeug.wrappers import Response
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length, Optional

from flask_entra.host import READ

from .models import Client, Contact, db

psa = Blueprint("psa", __name__)
P = ParamSpec("P")
R = TypeVar("R")


class ClientForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    website = StringField("Website", validators=[Optional(), Length(max=255)])


class ContactForm(FlaskForm):
    full_name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[Optional(), Length(max=320)])
    phone = StringField("Phone", validators=[Optional(), Length(max=50)])
    job_title = StringField("Job title", validators=[Optional(), Length(max=200)])


def internal_only(view: Callable[P, R]) -> Callable[P, R]:
    """Signed in, and an MSP's own staff: client-portal users are refused."""

    @wraps(view)
    @login_required
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if current_user.is_client_portal:
            abort(403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def own_clients() -> Select[tuple[Client]]:
    return select(Client).where(Client.tenant == current_user.tenant)


def own_client(client_id: int) -> Client:
    """The tenant's client, or 404: another tenant's id looks exactly like a missing one."""
    client = db.session.scalar(own_clients().where(Client.id == client_id))
    if client is None:
        abort(404)
    return client


@psa.route("/")
@login_required
def home() -> Response:
    return redirect(url_for("psa.portal" if current_user.is_client_portal else "psa.clients"))


@psa.route("/clients", methods=["GET", "POST"])
@internal_only
def clients() -> str | Response:
    form = ClientForm()
    if form.validate_on_submit():
        client = Client(tenant=current_user.tenant, name=form.name.data.strip(), website=form.website.data or None)
        db.session.add(client)
        db.session.commit()
        flash(f"Client {client.name} created.", "info")
        return redirect(url_for("psa.client", client_id=client.id))
    query = request.args.get("q", "").strip()
    contacts = (
        select(Contact.client_id, func.count().label("active_contacts"))
        .where(Contact.tenant == current_user.tenant, Contact.is_inactive.is_(False))
        .group_by(Contact.client_id)
        .subquery()
    )
    statement = (
        select(Client, func.coalesce(contacts.c.active_contacts, 0))
        .outerjoin(contacts, contacts.c.client_id == Client.id)
        .where(Client.tenant == current_user.tenant)
        .order_by(Client.is_inactive, Client.name)
    )
    if query:
        statement = statement.where(Client.name.ilike(f"%{_escape_like(query)}%", escape="\\"))
    rows = db.session.execute(statement).all()
    return render_template("clients.html", rows=rows, query=query, form=form)


@psa.route("/clients/<int:client_id>", methods=["GET", "POST"])
@internal_only
def client(client_id: int) -> str | Response:
    client = own_client(client_id)
    form = ContactForm()
    if form.validate_on_submit():
        contact = Contact(
            tenant=client.tenant,
            client_id=client.id,
            full_name=form.full_name.data.strip(),
            email=(form.email.data or "").strip() or None,
            phone=form.phone.data or None,
            job_title=form.job_title.data or None,
        )
        db.session.add(contact)
        db.session.commit()
        flash(f"Contact {contact.full_name} added.", "info")
        return redirect(url_for("psa.client", client_id=client.id))
    return render_template("client.html", client=client, form=form)


@psa.route("/clients/<int:client_id>/contacts/<int:contact_id>/active", methods=["POST"])
@internal_only
def toggle_contact(client_id: int, contact_id: int) -> Response:
    client = own_client(client_id)
    contact = next((c for c in client.contacts if c.id == contact_id), None)
    if contact is None:
        abort(404)
    contact.is_inactive = not contact.is_inactive
    db.session.commit()
    flash(f"{contact.full_name} is now {'inactive' if contact.is_inactive else 'active'}.", "info")
    return redirect(url_for("psa.client", client_id=client.id))


@psa.route("/settings/integrations")
@internal_only
def integrations() -> str:
    if READ not in current_user.permissions:
        abort(403)
    return render_template("integrations.html")


@psa.route("/portal")
@login_required
def portal() -> str:
    if not current_user.is_client_portal:
        abort(404)
    return render_template("portal.html", client=current_user.client)


@psa.app_context_processor
def navigation() -> dict[str, Any]:
    return {"can_view_settings": current_user.is_authenticated and READ in current_user.permissions}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
