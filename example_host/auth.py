"""Sign-in and sign-out (Flask-Login; the form is CSRF-protected like every write)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .models import User, db

auth = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired()])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@auth.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is not None and user.check_password(form.password.data or ""):
            login_user(user)
            return redirect(_safe_next() or url_for("psa.home"))
        flash("Email or password is incorrect.", "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form), (400 if form.errors else 200)


@auth.route("/logout", methods=["POST"])
def logout() -> Response:
    if current_user.is_authenticated:
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _safe_next() -> str | None:
    """Only a path on this site: ``next`` must never send a user elsewhere after sign-in.

    Browsers drop tabs and newlines from a Location and read a backslash as a slash, so ``/\t/evil.example`` would
    leave the site: any control character, space or backslash disqualifies the target.
    """
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None
