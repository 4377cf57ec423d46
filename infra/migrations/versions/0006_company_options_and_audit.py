"""Company options in the database (the console's and `auvo-bling options set`'s), their revision
per tenant, which revision each running process applied, and the audit log of every change.

New tables only: the bootstrap settings (environment, TOML) are untouched and still win over
these rows for any key they set (README: "Company options").

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "company_options",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("sealed", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "company_option_revisions",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(200), nullable=False),
        sa.Column("reread_from", sa.Integer, nullable=True),
        sa.Column("reread_done", sa.Integer, nullable=True),
    )
    op.create_table(
        "company_option_applied",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("process", sa.String(200), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_tenant_at", "audit_log", ["tenant", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_tenant_at", table_name="audit_log")
    for table in ("audit_log", "company_option_applied", "company_option_revisions", "company_options"):
        op.drop_table(table)
