"""Score imports (a new version each time, nothing half-imported) and their publication.

Publication freezes a snapshot (category, 建档立卡, bonus, 投档总分, 位次) that candidates and
admission runs read, and computes the score bands once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

import numpy as np
from sqlalchemy import Integer, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from services.results.adapters import files
from services.results.adapters.bulk import add_events, insert_rows
from services.results.adapters.tables import (
    SUBJECT_COLUMNS,
    candidates,
    published_scores,
    score_bands,
    score_imports,
    score_publications,
    scores,
)
from services.results.domain.scores import (
    BAND_WIDTH,
    CandidateFact,
    ParsedScores,
    RowProblem,
    category_ranks,
    parse_scores,
)
from services.results.domain.scores import (
    score_bands as compute_bands,
)
from services.results.service.common import SERVICE, audit, bump_revision, current_publication, timestamp
from zsb.common.clock import utcnow
from zsb.common.errors import InvalidArgument, NotFound
from zsb.common.principal import Role, require_staff
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import results_events_pb2 as ev

REPLACE, AMEND = "replace", "amend"


@dataclass(frozen=True)
class ImportOutcome:
    problems: list[RowProblem]
    problem_count: int
    version: int = 0


def _subjects(row) -> list[str]:
    return list(json.loads(row.subjects_json))


class ScoresService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # ---- import ----

    def import_scores(self, filename: str, content: bytes, mode: str, note: str) -> ImportOutcome:
        actor = require_staff(Role.PROVINCE)
        if mode not in (REPLACE, AMEND):
            raise InvalidArgument("请选择导入方式", reason="BAD_MODE", field="mode")
        try:
            table = files.read_table(content)
        except files.ScoreFileError as exc:
            return ImportOutcome([RowProblem(0, "", str(exc))], 1)
        with self.ctx.db.unit_of_work() as session:
            known = {
                r.candidate_no: (int(r.id), CandidateFact(bool(r.confirmed), bool(r.abandoned)))
                for r in session.execute(
                    select(candidates.c.candidate_no, candidates.c.id, candidates.c.confirmed, candidates.c.abandoned)
                ).all()
            }
            parsed = parse_scores(table.header, table.lines, {k: v[1] for k, v in known.items()})
            previous = session.execute(
                select(score_imports).order_by(score_imports.c.version.desc()).limit(1).with_for_update()
            ).first()
            if not parsed.problem_count and mode == AMEND:
                self._check_amendment(parsed, previous)
            if parsed.problem_count:
                return ImportOutcome(parsed.problems, parsed.problem_count)
            version = (previous.version if previous else 0) + 1
            ids = {number: known[number][0] for number in (r.candidate_no for r in parsed.rows)}
            rows = {ids[r.candidate_no]: (r.total, *r.subjects) for r in parsed.rows}
            width = len(parsed.subjects)
            old = self._rows(session, previous.version, width) if previous else {}
            if mode == AMEND:
                changed = sum(1 for cid, values in rows.items() if old.get(cid) != values)
                self._copy_version(session, previous.version, version, set(rows))
            else:
                changed = sum(1 for cid, values in rows.items() if old.get(cid) != values)
                changed += sum(1 for cid in old if cid not in rows)
            columns = ("import_version", "candidate_id", "total", *SUBJECT_COLUMNS[:width])
            insert_rows(session, scores, columns, ((version, cid, *values) for cid, values in rows.items()))
            total = session.execute(
                select(func.count()).select_from(scores).where(scores.c.import_version == version)
            ).scalar_one()
            digest = hashlib.sha256(content).hexdigest()
            session.execute(
                insert(score_imports).values(
                    version=version,
                    mode=mode,
                    filename=(filename or "")[:200],
                    sha256=digest,
                    rows=len(parsed.rows),
                    total=total,
                    changed=changed,
                    subjects_json=json.dumps(parsed.subjects, ensure_ascii=False),
                    note=(note or "").strip()[:200],
                    actor=actor.subject[:40],
                    imported_at=utcnow(),
                )
            )
            audit(
                session,
                actor,
                "scores_imported",
                f"v{version}",
                f"{'更正' if mode == AMEND else '整体'}导入 {filename} ({len(parsed.rows)}行，变化{changed}人，"
                f"SHA-256 {digest[:16]}…){'：' + note.strip() if note.strip() else ''}",
            )
        return ImportOutcome([], 0, version)

    @staticmethod
    def _check_amendment(parsed: ParsedScores, previous) -> None:
        if previous is None:
            parsed.add(0, "", "尚无可更正的成绩，请先整体导入")
        elif _subjects(previous) != parsed.subjects:
            shown = "、".join(_subjects(previous)) or "无"
            parsed.add(1, "", f"更正文件的科目列须与第{previous.version}版相同（{shown}）")

    @staticmethod
    def _rows(session: Session, version: int, width: int) -> dict[int, tuple]:
        cols = [scores.c.candidate_id, scores.c.total, *(scores.c[name] for name in SUBJECT_COLUMNS[:width])]
        return {r[0]: tuple(r[1:]) for r in session.execute(select(*cols).where(scores.c.import_version == version))}

    @staticmethod
    def _copy_version(session: Session, source: int, target: int, replaced: set[int]) -> None:
        """The amended version starts as a copy of the previous one without the corrected rows."""
        cols = [scores.c.candidate_id, scores.c.total, *(scores.c[n] for n in SUBJECT_COLUMNS)]
        session.execute(
            insert(scores).from_select(
                ["import_version", "candidate_id", "total", *SUBJECT_COLUMNS],
                select(literal(target, Integer), *cols).where(scores.c.import_version == source),
            )
        )
        ids = iter(sorted(replaced))
        while part := list(islice(ids, 500)):
            session.execute(delete(scores).where(scores.c.import_version == target, scores.c.candidate_id.in_(part)))

    def list_imports(self) -> tuple[list, object | None]:
        require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            rows = session.execute(select(score_imports).order_by(score_imports.c.version.desc()).limit(100)).all()
            return rows, current_publication(session)

    # ---- publication ----

    def publish(self, version: int) -> int:
        actor = require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            imported = session.execute(
                select(score_imports).where(score_imports.c.version == version).with_for_update()
            ).first()
            if imported is None:
                raise NotFound("没有该版本的成绩", reason="NO_SUCH_VERSION", field="version")
            subjects = _subjects(imported)
            width = len(subjects)
            query = (
                select(
                    scores.c.candidate_id,
                    candidates.c.candidate_no,
                    candidates.c.major_category,
                    candidates.c.jdlk,
                    candidates.c.bonus_points,
                    scores.c.total,
                    *(scores.c[n] for n in SUBJECT_COLUMNS[:width]),
                )
                .join(candidates, candidates.c.id == scores.c.candidate_id)
                .where(scores.c.import_version == version, candidates.c.abandoned.is_(False))
                .order_by(scores.c.candidate_id)
            )
            rows = session.execute(query).all()
            if not rows:
                raise InvalidArgument("该版本没有可发布的成绩", reason="NOTHING_TO_PUBLISH")
            previous = current_publication(session)
            publication = (previous.id if previous else 0) + 1
            now = utcnow()
            count = self._write_publication(session, publication, rows, subjects, now)
            session.execute(
                insert(score_publications).values(
                    id=publication,
                    import_version=version,
                    subjects_json=imported.subjects_json,
                    band_width=BAND_WIDTH,
                    candidates=count,
                    actor=actor.subject[:40],
                    published_at=now,
                )
            )
            audit(session, actor, "scores_published", f"v{version}", f"第{publication}次发布，{count}名考生")
            bump_revision(session)
        return publication

    @staticmethod
    def _write_publication(session: Session, publication: int, rows: list, subjects: list[str], now: datetime) -> int:
        width = len(subjects)
        categories = [r[2] for r in rows]
        names, category = np.unique(np.array(categories, dtype=object).astype(str), return_inverse=True)
        bonus = np.fromiter((r[4] for r in rows), np.int64, len(rows))
        total = np.fromiter((r[5] for r in rows), np.int64, len(rows))
        admission_total = total + bonus
        ranks = category_ranks(category, admission_total)
        per_category = np.bincount(category, minlength=len(names))
        columns = (
            "publication_id",
            "candidate_id",
            "major_category",
            "jdlk",
            "total",
            "bonus",
            "admission_total",
            "rank",
            *SUBJECT_COLUMNS[:width],
        )
        rank_list, at_list, cat_list = ranks.tolist(), admission_total.tolist(), category.tolist()
        insert_rows(
            session,
            published_scores,
            columns,
            (
                (publication, r[0], r[2], bool(r[3]), r[5], r[4], at_list[k], rank_list[k], *r[6 : 6 + width])
                for k, r in enumerate(rows)
            ),
        )
        at = timestamp(now)
        band_rows = []
        band_events = []
        for c, name in enumerate(names.tolist()):
            bands = compute_bands(admission_total[category == c])
            band_rows += [(publication, name, b.low, b.high, b.count, b.cumulative) for b in bands]
            band_events.append(
                (
                    name,
                    ev.ScoreBandsPublished(
                        publication=publication,
                        major_category=name,
                        band_width=BAND_WIDTH,
                        candidates=int(per_category[c]),
                        bands=[
                            ev.ScoreBandCount(low=b.low, high=b.high, count=b.count, cumulative=b.cumulative)
                            for b in bands
                        ],
                        at=at,
                    ),
                )
            )
        insert_rows(
            session,
            score_bands,
            ("publication_id", "major_category", "low", "high", "count", "cumulative"),
            band_rows,
        )

        def candidate_events():
            for k, r in enumerate(rows):
                yield (
                    r[1],
                    ev.ScoresPublished(
                        candidate_no=r[1],
                        publication=publication,
                        major_category=r[2],
                        total=r[5],
                        subjects=[
                            ev.SubjectPoints(name=name, points=p)
                            for name, p in zip(subjects, r[6 : 6 + width], strict=True)
                            if p is not None
                        ],
                        bonus_points=r[4],
                        admission_total=at_list[k],
                        rank=rank_list[k],
                        category_candidates=int(per_category[cat_list[k]]),
                        at=at,
                    ),
                )

        add_events(session, SERVICE, candidate_events())
        add_events(session, SERVICE, band_events)
        return len(rows)
