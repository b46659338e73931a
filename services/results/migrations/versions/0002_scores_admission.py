"""Scores, publications and bands; projections of candidates, plan and preferences; admission
settings, runs and their outcome, phases, 退档, vacancies, 征集志愿 and the staff audit.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"

TABLES = (
    "admission_settings",
    "batches",
    "candidates",
    "input_revision",
    "phases",
    "plan_lines",
    "plan_state",
    "preferences",
    "programmes",
    "published_scores",
    "returns",
    "run_chunks",
    "run_plans",
    "run_results",
    "run_stage_plans",
    "runs",
    "score_bands",
    "score_imports",
    "score_publications",
    "scores",
    "solicitations",
    "staff_audit",
    "vacancies",
)


def upgrade() -> None:
    op.create_table(
        "admission_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "batches",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("poverty_only", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "candidates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("candidate_no", sa.String(length=14), nullable=False),
        sa.Column("name", sa.String(length=60), server_default="", nullable=False),
        sa.Column("candidate_category", sa.String(length=4), server_default="", nullable=False),
        sa.Column("major_category", sa.String(length=4), server_default="", nullable=False),
        sa.Column("jdlk", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("city_code", sa.String(length=2), server_default="", nullable=False),
        sa.Column("point_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("bonus_points", sa.Integer(), server_default="0", nullable=False),
        sa.Column("confirmed", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("abandoned", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("candidate_no"),
    )
    op.create_table(
        "input_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "phases",
        sa.Column("phase_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("batch_code", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=40), nullable=False),
        sa.Column("review_opens_at", sa.DateTime(), nullable=True),
        sa.Column("review_closes_at", sa.DateTime(), nullable=True),
        sa.Column("solicit_opens_at", sa.DateTime(), nullable=True),
        sa.Column("solicit_closes_at", sa.DateTime(), nullable=True),
        sa.Column("vacancies_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("phase_index"),
        sa.UniqueConstraint("run_id"),
    )
    op.create_table(
        "plan_lines",
        sa.Column("batch_code", sa.String(length=16), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("major_category", sa.String(length=4), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_code", "programme_id", "major_category"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "plan_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=40), server_default="", nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "preferences",
        sa.Column("candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch_code", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("slot_a", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_b", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_c", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_d", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_e", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_f", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_g", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_h", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("candidate_id", "batch_code"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("institution_code", sa.String(length=16), nullable=False),
        sa.Column("major_code", sa.String(length=16), nullable=False),
        sa.Column("institution_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("major_name", sa.String(length=100), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("institution_code", "major_code", name="uq_programmes_codes"),
    )
    op.create_table(
        "published_scores",
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("major_category", sa.String(length=4), nullable=False),
        sa.Column("jdlk", sa.Boolean(), nullable=False),
        sa.Column("total", sa.SmallInteger(), nullable=False),
        sa.Column("bonus", sa.SmallInteger(), nullable=False),
        sa.Column("admission_total", sa.SmallInteger(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("s1", sa.SmallInteger(), nullable=True),
        sa.Column("s2", sa.SmallInteger(), nullable=True),
        sa.Column("s3", sa.SmallInteger(), nullable=True),
        sa.Column("s4", sa.SmallInteger(), nullable=True),
        sa.Column("s5", sa.SmallInteger(), nullable=True),
        sa.Column("s6", sa.SmallInteger(), nullable=True),
        sa.Column("s7", sa.SmallInteger(), nullable=True),
        sa.Column("s8", sa.SmallInteger(), nullable=True),
        sa.PrimaryKeyConstraint("publication_id", "candidate_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "returns",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("phase_index", sa.Integer(), nullable=False),
        sa.Column("batch_code", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("major_category", sa.String(length=4), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("candidate_id", "phase_index", name="uq_returns_candidate_phase"),
    )
    op.create_table(
        "run_chunks",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column(
            "data",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mariadb").with_variant(mysql.LONGBLOB(), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("run_id", "chunk"),
    )
    op.create_table(
        "run_plans",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("batch_code", sa.String(length=16), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("major_category", sa.String(length=4), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "idx"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "run_results",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dispatch_order", sa.Integer(), nullable=False),
        sa.Column("admission_total", sa.Integer(), nullable=False),
        sa.Column("final_stage", sa.SmallInteger(), nullable=False),
        sa.Column("plan_idx", sa.Integer(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "candidate_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "run_stage_plans",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stage_index", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("dispatched", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("lowest_dispatched", sa.Integer(), nullable=False),
        sa.Column("lowest_admitted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "stage_index", "idx"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("phase_index", sa.Integer(), nullable=False),
        sa.Column("batch_code", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("categories_json", sa.Text(), nullable=False),
        sa.Column("score_publication", sa.Integer(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("dispatched", sa.Integer(), nullable=False),
        sa.Column("placed", sa.Integer(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("millis", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_by", sa.String(length=40), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_status", "runs", ["status", "phase_index"], unique=False)
    op.create_table(
        "score_bands",
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("major_category", sa.String(length=4), nullable=False),
        sa.Column("low", sa.Integer(), nullable=False),
        sa.Column("high", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("cumulative", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("publication_id", "major_category", "low"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "score_imports",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("subjects_json", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "score_publications",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("import_version", sa.Integer(), nullable=False),
        sa.Column("subjects_json", sa.Text(), nullable=False),
        sa.Column("band_width", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "scores",
        sa.Column("import_version", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("total", sa.SmallInteger(), nullable=False),
        sa.Column("s1", sa.SmallInteger(), nullable=True),
        sa.Column("s2", sa.SmallInteger(), nullable=True),
        sa.Column("s3", sa.SmallInteger(), nullable=True),
        sa.Column("s4", sa.SmallInteger(), nullable=True),
        sa.Column("s5", sa.SmallInteger(), nullable=True),
        sa.Column("s6", sa.SmallInteger(), nullable=True),
        sa.Column("s7", sa.SmallInteger(), nullable=True),
        sa.Column("s8", sa.SmallInteger(), nullable=True),
        sa.PrimaryKeyConstraint("import_version", "candidate_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "solicitations",
        sa.Column("candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch_code", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("slot_a", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_b", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_c", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_d", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_e", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_f", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_g", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot_h", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("candidate_id", "batch_code"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "vacancies",
        sa.Column("batch_code", sa.String(length=16), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("major_category", sa.String(length=4), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("admitted", sa.Integer(), nullable=False),
        sa.Column("vacancies", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_code", "programme_id", "major_category"),
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
