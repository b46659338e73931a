"""Tables of the results service (SQLAlchemy Core: the big reads and writes are columnar).

Candidates get a surrogate integer id here so that scores, preferences and run results are
integer-keyed: a whole run loads and writes arrays without a Python object per candidate.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase

from zsb.common.calendar import calendar_table

ID = BigInteger().with_variant(Integer(), "sqlite")
LONG_BLOB = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
SLOTS = "abcdefgh"
SUBJECT_COLUMNS = tuple(f"s{k}" for k in range(1, 9))  # up to 8 subjects per import


class Base(DeclarativeBase):
    metadata = MetaData()


md = Base.metadata


# Tables keyed by a composite primary key are clustered on it in SQLite too (WITHOUT ROWID), as
# InnoDB clusters them: a run reads and writes them in key order without a second index.


def _slot_columns() -> list[Column]:
    """Programme ids of preferences A..H; 0 = empty slot (keeps the columns integer)."""
    return [Column(f"slot_{s}", Integer, nullable=False, server_default="0") for s in SLOTS]


def _subject_columns() -> list[Column]:
    return [Column(name, SmallInteger, nullable=True) for name in SUBJECT_COLUMNS]


# ---- projections of other services' events ----

candidates = Table(
    "candidates",
    md,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("candidate_no", String(14), nullable=False, unique=True),
    Column("name", String(60), nullable=False, server_default=""),
    Column("candidate_category", String(4), nullable=False, server_default=""),
    Column("major_category", String(4), nullable=False, server_default=""),
    Column("jdlk", Boolean, nullable=False, server_default="0"),
    Column("city_code", String(2), nullable=False, server_default=""),
    Column("point_code", String(10), nullable=False, server_default=""),
    Column("bonus_points", Integer, nullable=False, server_default="0"),
    Column("confirmed", Boolean, nullable=False, server_default="0"),
    Column("abandoned", Boolean, nullable=False, server_default="0"),
    Column("updated_at", DateTime, nullable=False),
)

programmes = Table(
    "programmes",
    md,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("institution_code", String(16), nullable=False),
    Column("major_code", String(16), nullable=False),
    Column("institution_name", String(100), nullable=False, server_default=""),
    Column("major_name", String(100), nullable=False, server_default=""),
    UniqueConstraint("institution_code", "major_code", name="uq_programmes_codes"),
)

batches = Table(
    "batches",
    md,
    Column("code", String(16), primary_key=True),
    Column("name", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    Column("poverty_only", Boolean, nullable=False),
)

plan_lines = Table(
    "plan_lines",
    md,
    Column("batch_code", String(16), primary_key=True),
    Column("programme_id", Integer, primary_key=True),
    Column("major_category", String(4), primary_key=True),
    Column("places", Integer, nullable=False),
    sqlite_with_rowid=False,
)

plan_state = Table(
    "plan_state",
    md,
    Column("id", Integer, primary_key=True),  # always 1
    Column("version", Integer, nullable=False),
    Column("actor", String(40), nullable=False, server_default=""),
    Column("received_at", DateTime, nullable=False),
)

preferences = Table(
    "preferences",
    md,
    Column("candidate_id", ID, primary_key=True),
    Column("batch_code", String(16), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("withdrawn", Boolean, nullable=False, server_default="0"),
    *_slot_columns(),
    sqlite_with_rowid=False,
)

# ---- scores ----

score_imports = Table(
    "score_imports",
    md,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("mode", String(10), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("subjects_json", Text, nullable=False),
    Column("note", String(200), nullable=False, server_default=""),
    Column("actor", String(40), nullable=False),
    Column("imported_at", DateTime, nullable=False),
)

scores = Table(
    "scores",
    md,
    Column("import_version", Integer, primary_key=True),
    Column("candidate_id", ID, primary_key=True),
    Column("total", SmallInteger, nullable=False),
    *_subject_columns(),
    sqlite_with_rowid=False,
)

score_publications = Table(
    "score_publications",
    md,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("import_version", Integer, nullable=False),
    Column("subjects_json", Text, nullable=False),
    Column("band_width", Integer, nullable=False),
    Column("candidates", Integer, nullable=False),
    Column("actor", String(40), nullable=False),
    Column("published_at", DateTime, nullable=False),
)

# What candidates and runs read: a frozen snapshot per publication (bonus, category, rank).
published_scores = Table(
    "published_scores",
    md,
    Column("publication_id", Integer, primary_key=True),
    Column("candidate_id", ID, primary_key=True),
    Column("major_category", String(4), nullable=False),
    Column("jdlk", Boolean, nullable=False),
    Column("total", SmallInteger, nullable=False),
    Column("bonus", SmallInteger, nullable=False),
    Column("admission_total", SmallInteger, nullable=False),
    Column("rank", Integer, nullable=False),
    *_subject_columns(),
    sqlite_with_rowid=False,
)

score_bands = Table(
    "score_bands",
    md,
    Column("publication_id", Integer, primary_key=True),
    Column("major_category", String(4), primary_key=True),
    Column("low", Integer, primary_key=True),
    Column("high", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    Column("cumulative", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# ---- admission ----

admission_settings = Table(
    "admission_settings",
    md,
    Column("id", Integer, primary_key=True),  # always 1
    Column("data_json", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_by", String(40), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# Bumped by every change of a run's inputs, so a dry run on older data cannot be published.
input_revision = Table(
    "input_revision",
    md,
    Column("id", Integer, primary_key=True),  # always 1
    Column("revision", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    md,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("phase_index", Integer, nullable=False),
    Column("batch_code", String(16), nullable=False),
    Column("stage", String(12), nullable=False),
    Column("status", String(10), nullable=False),  # dry | published | discarded
    Column("revision", BigInteger, nullable=False),
    Column("config_json", Text, nullable=False),
    Column("categories_json", Text, nullable=False),
    Column("score_publication", Integer, nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("candidates", Integer, nullable=False),
    Column("dispatched", Integer, nullable=False),
    Column("placed", Integer, nullable=False),
    Column("chunk_size", Integer, nullable=False),
    Column("millis", Integer, nullable=False),  # how long the run took
    Column("actor", String(40), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("published_at", DateTime, nullable=True),
    Column("published_by", String(40), nullable=False, server_default=""),
    Index("ix_runs_status", "status", "phase_index"),
)

run_plans = Table(
    "run_plans",
    md,
    Column("run_id", ID, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("batch_code", String(16), nullable=False),
    Column("programme_id", Integer, nullable=False),
    Column("major_category", String(4), nullable=False),
    Column("places", Integer, nullable=False),
    sqlite_with_rowid=False,
)

run_stage_plans = Table(
    "run_stage_plans",
    md,
    Column("run_id", ID, primary_key=True),
    Column("stage_index", Integer, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("quota", Integer, nullable=False),
    Column("dispatched", Integer, nullable=False),
    Column("returned", Integer, nullable=False),
    Column("lowest_dispatched", Integer, nullable=False),
    Column("lowest_admitted", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# One row per candidate of a run: the standing outcome. final_stage -1 / plan_idx -1: 未投档.
run_results = Table(
    "run_results",
    md,
    Column("run_id", ID, primary_key=True),
    Column("candidate_id", ID, primary_key=True),
    Column("position", Integer, nullable=False),  # index in the run's arrays (and chunks)
    Column("dispatch_order", Integer, nullable=False),
    Column("admission_total", Integer, nullable=False),
    Column("final_stage", SmallInteger, nullable=False),
    Column("plan_idx", Integer, nullable=False),
    Column("slot", SmallInteger, nullable=False),
    sqlite_with_rowid=False,
)

# The per-stage arrays of a run in compressed chunks of candidates: what explanations need.
run_chunks = Table(
    "run_chunks",
    md,
    Column("run_id", ID, primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("data", LONG_BLOB, nullable=False),
)

phases = Table(
    "phases",
    md,
    Column("phase_index", Integer, primary_key=True, autoincrement=False),
    Column("batch_code", String(16), nullable=False),
    Column("stage", String(12), nullable=False),
    Column("run_id", ID, nullable=False, unique=True),
    Column("published_at", DateTime, nullable=False),
    Column("published_by", String(40), nullable=False),
    Column("review_opens_at", DateTime, nullable=True),
    Column("review_closes_at", DateTime, nullable=True),
    Column("solicit_opens_at", DateTime, nullable=True),
    Column("solicit_closes_at", DateTime, nullable=True),
    Column("vacancies_at", DateTime, nullable=True),
)

returns = Table(
    "returns",
    md,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("candidate_id", ID, nullable=False),
    Column("phase_index", Integer, nullable=False),
    Column("batch_code", String(16), nullable=False),
    Column("stage", String(12), nullable=False),
    Column("programme_id", Integer, nullable=False),
    Column("major_category", String(4), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("actor", String(40), nullable=False),
    Column("at", DateTime, nullable=False),
    UniqueConstraint("candidate_id", "phase_index", name="uq_returns_candidate_phase"),
)

vacancies = Table(
    "vacancies",
    md,
    Column("batch_code", String(16), primary_key=True),
    Column("programme_id", Integer, primary_key=True),
    Column("major_category", String(4), primary_key=True),
    Column("places", Integer, nullable=False),
    Column("admitted", Integer, nullable=False),
    Column("vacancies", Integer, nullable=False),
)

solicitations = Table(
    "solicitations",
    md,
    Column("candidate_id", ID, primary_key=True),
    Column("batch_code", String(16), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("submitted_at", DateTime, nullable=False),
    *_slot_columns(),
    sqlite_with_rowid=False,
)

staff_audit = Table(
    "staff_audit",
    md,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(40), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject", String(40), nullable=False),
    Column("detail", String(500), nullable=False),
)

# Our copy of registration's calendar (CalendarPhaseChanged): candidates see their scores once the
# 成绩查询 phase has opened (zsb.common.calendar).
calendar_phases = calendar_table(md)
