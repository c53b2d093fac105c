"""The init_app contract: fail fast with advice, the edition gate, state in app.extensions."""

from __future__ import annotations

import subprocess
import sys

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_entra import Entra
from flask_entra.errors import ConfigurationError


def make_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="test", **config)
    SQLAlchemy(app)
    return app


def test_unknown_entra_key_fails_fast_with_a_suggestion() -> None:
    app = make_app(ENTRA_GRAPH_BASE_ULR="http://x")
    with pytest.raises(ConfigurationError, match="did you mean ENTRA_GRAPH_BASE_URL"):
        Entra(app)


def test_needs_flask_sqlalchemy_first() -> None:
    app = Flask(__name__)
    with pytest.raises(ConfigurationError, match="db.init_app"):
        Entra(app)


def test_enterprise_needs_a_host_adapter() -> None:
    with pytest.raises(ConfigurationError, match="host adapter"):
        Entra(make_app(EDITION="enterprise"))


def test_vault_named_without_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="ENTRA_VAULT_URL"):
        Entra(make_app(ENTRA_SECRET_PROVIDERS=("env", "vault")))


def test_state_lives_in_app_extensions_and_defaults_are_applied() -> None:
    app = make_app()
    entra = Entra()
    entra.init_app(app)
    assert app.extensions["entra"].enterprise is False
    assert app.config["ENTRA_GRAPH_BASE_URL"] == "https://graph.microsoft.com"
    assert not hasattr(entra, "app")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/integrations/entra",
        "/api/integrations/entra/tenants",
        "/api/integrations/entra/sync/runs/abc",
        "/api/clients/7/entra/sync",
        "/api/auth/microsoft/entra/callback",
    ],
)
def test_community_edition_answers_501_everywhere(path: str, method: str) -> None:
    app = make_app()
    Entra(app)
    response = app.test_client().open(path, method=method)
    assert response.status_code == 501
    assert response.get_json()["error"] == "enterprise_edition_required"


def test_community_edition_has_no_pages_and_imports_no_ee_module() -> None:
    app = make_app()
    Entra(app)
    assert app.test_client().get("/settings/integrations/entra").status_code == 404
    with app.test_request_context():
        assert str(app.jinja_env.globals["entra_settings_card"]()) == ""
    # A fresh interpreter shows what a community app imports.
    probe = (
        "import sys; from flask import Flask; from flask_sqlalchemy import SQLAlchemy; from flask_entra import Entra;"
        "app = Flask('x'); app.config['SQLALCHEMY_DATABASE_URI'] = 'sqlite://'; SQLAlchemy(app); Entra(app);"
        "print(sorted(m for m in sys.modules if m.startswith(('flask_entra.blueprints', 'flask_entra.actions',"
        " 'flask_entra.temporal', 'flask_entra.providers', 'flask_entra.sync'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
