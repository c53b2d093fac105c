"""The wheel is what hosts install: it must carry templates and migrations and create every table on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import psycopg
import pytest

from tests.plugins.postgres import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
TABLES = {
    "entra_connections",
    "entra_oauth_states",
    "entra_managed_tenants",
    "entra_tenant_mappings",
    "entra_sync_settings",
    "entra_sync_runs",
    "entra_sync_run_tenants",
    "entra_contact_links",
    "entra_reconciliation_items",
    "entra_feature_flags",
    "entra_alembic_version",
}
UNIQUE_INDEXES = {
    "uq_entra_connections_one_active",
    "uq_entra_tenant_mappings_one_active",
    "uq_entra_contact_links_identity",
    "uq_entra_contact_links_one_active_per_contact",
    "uq_entra_managed_tenants_identity",
    "uq_entra_reconciliation_items_one_open",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("flask_entra-*.whl"))


def test_wheel_carries_templates_migrations_and_types(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "flask_entra/py.typed",
        "flask_entra/templates/entra/layout.html",
        "flask_entra/templates/entra/macros/settings_card.html",
        "flask_entra/_migrations/env.py",
        "flask_entra/_migrations/script.py.mako",
    ):
        assert required in names, required
    assert any(n.startswith("flask_entra/_migrations/versions/0001") for n in names)
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "flask_entra").rglob("*.py")}
    assert sources <= names, f"modules missing from the wheel: {sorted(sources - names)}"
    assert not any(n.startswith(("tests/", "example_host/", "benchmarks/")) for n in names)


def test_installed_wheel_upgrades_an_empty_postgres(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies come from the test venv's site-packages by path (no .pth processing, so not our editable install).
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, str(wheel)],
        check=True,
        capture_output=True,
    )
    host_dir = tmp_path / "host"
    shutil.copytree(ROOT / "example_host", host_dir / "example_host")
    url = create_database("entra_wheel")
    try:
        env = {
            **os.environ,
            "PYTHONPATH": str(host_dir),
            "EDITION": "enterprise",
            "DATABASE_URL": url.replace("postgresql://", "postgresql+psycopg://", 1),
            "SECRET_KEY": "x",
        }
        where = subprocess.run(
            [python, "-c", "import flask_entra; print(flask_entra.__file__)"],
            cwd=host_dir,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert where.startswith(site), f"flask_entra imported from {where}, not the installed wheel"
        run = subprocess.run(
            [python, "-m", "flask", "--app", "example_host", "entra", "db", "upgrade"],
            cwd=host_dir,
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        with psycopg.connect(url) as conn:
            tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
            indexes = {
                r[0]
                for r in conn.execute(
                    "select indexname from pg_indexes where schemaname = 'public' and indexdef like 'CREATE UNIQUE%'"
                )
            }
        assert TABLES <= tables, TABLES - tables
        assert UNIQUE_INDEXES <= indexes, UNIQUE_INDEXES - indexes
        assert not {t for t in tables if not t.startswith("entra_")}, "our upgrade created host tables"
    finally:
        drop_database(url)
