"""Dry runs keep a few example names per kind of change for the preview.

Revision ID: 0002_dry_run_examples
Revises: 0001_initial
Create Date: 2026-11-25 18:35:43.410811
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_dry_run_examples"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows get an empty object; new rows get theirs from the model's default.
    op.add_column(
        "entra_sync_run_tenants", sa.Column("examples", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    )


def downgrade() -> None:
    op.drop_column("entra_sync_run_tenants", "examples")
