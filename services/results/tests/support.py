"""Shared by the results service's and the gateway's tests: the projections fed directly, score
files, settings, and a stub with each kind of caller."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import grpc
from sqlalchemy import update

from services.results.adapters.tables import phases
from services.results.main import SPEC
from services.results.service import facts
from services.results.service.common import from_unix
from zsb.common.runtime import ServiceRuntime
from zsb.events.v1 import preferences_events_pb2 as pref_ev
from zsb.events.v1 import registration_events_pb2 as reg_ev
from zsb.results.v1 import results_pb2 as pb
from zsb.results.v1 import results_pb2_grpc

# The shared topics hold other tests' events about the same 考生号s: tests that feed the
# projections themselves run the service without consumers.
WITHOUT_CONSUMERS = replace(SPEC, subscriptions=lambda _ctx: [])
SUBJECTS = ("公共课", "专业课")
BATCH_NAMES = {"jdlk": "建档立卡专项批本科", "ordinary": "普通批本科"}


def number(k: int, point: str = "0113") -> str:
    """A 14-digit 考生号 of a point (city = the point's first two digits)."""
    return f"211451{point}{k:04d}"


@dataclass
class Person:
    no: str
    category: str = "01"
    public: int = 100
    professional: int = 100
    jdlk: bool = False
    bonus: int = 0
    prefs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.public + self.professional


def score_csv(people: Iterable[Person], extra_rows: Sequence[Sequence[str]] = ()) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["考生号", "总分", *SUBJECTS])
    for p in people:
        writer.writerow([p.no, p.total, p.public, p.professional])
    writer.writerows(extra_rows)
    return out.getvalue().encode("utf-8-sig")


@dataclass
class Harness:
    runtime: ServiceRuntime
    bearer: Callable[..., tuple]
    plan_version: int = 0

    @property
    def db(self):
        return self.runtime.ctx.db

    def stub(self) -> results_pb2_grpc.ResultsServiceStub:
        return results_pb2_grpc.ResultsServiceStub(grpc.insecure_channel(f"127.0.0.1:{self.runtime.port}"))

    def province(self) -> tuple:
        return self.bearer("province", "prov01")

    def candidate(self, no: str) -> tuple:
        return self.bearer("candidate", no, no[6:8], no[6:10])

    # ---- projections, fed as the consumers would ----

    def confirm(self, p: Person) -> None:
        with self.db.unit_of_work() as session:
            facts.on_confirmed(
                session,
                reg_ev.RegistrationConfirmed(
                    candidate_no=p.no,
                    name=f"考生{p.no[-4:]}",
                    candidate_category="1",
                    major_category=p.category,
                    poverty_registered=p.jdlk,
                    city_code=p.no[6:8],
                    point_code=p.no[6:10],
                ),
            )
            if p.bonus:
                facts.on_qualification_approved(
                    session, reg_ev.QualificationApproved(candidate_no=p.no, bonus_points=p.bonus)
                )
            for batch, picks in p.prefs.items():
                facts.on_preferences_submitted(
                    session,
                    pref_ev.PreferencesSubmitted(
                        candidate_no=p.no,
                        batch_code=batch,
                        version=1,
                        major_category=p.category,
                        poverty_registered=p.jdlk,
                        items=[
                            pref_ev.PreferenceItem(slot="ABCDEFGH"[k], institution_code=i, major_code=m)
                            for k, (i, m) in enumerate(picks)
                        ],
                    ),
                )

    def plan(self, lines: Sequence[tuple[str, str, str, str, int]], names: dict[str, str] | None = None) -> None:
        """(batch, institution, major, category, places) lines, the batches jdlk then ordinary."""
        self.plan_version += 1
        names = names or {}
        with self.db.unit_of_work() as session:
            facts.on_plan_published(
                session,
                pref_ev.EnrollmentPlanPublished(
                    version=self.plan_version,
                    batches=[
                        pref_ev.EnrollmentBatch(code="jdlk", name=BATCH_NAMES["jdlk"], position=1, poverty_only=True),
                        pref_ev.EnrollmentBatch(code="ordinary", name=BATCH_NAMES["ordinary"], position=2),
                    ],
                    lines=[
                        pref_ev.EnrollmentPlanLine(
                            batch_code=b,
                            institution_code=i,
                            institution_name=names.get(i, f"院校{i}"),
                            major_code=m,
                            major_name=names.get(f"{i}/{m}", f"专业{m}"),
                            major_category=c,
                            places=n,
                        )
                        for b, i, m, c, n in lines
                    ],
                ),
            )

    # ---- staff calls ----

    def import_scores(self, content: bytes, mode: int = pb.REPLACE, note: str = "") -> pb.ImportScoresResponse:
        req = pb.ImportScoresRequest(filename="scores.csv", content=content, mode=mode, note=note)
        return self.stub().ImportScores(req, metadata=self.province())

    def publish_scores(self, people: Iterable[Person]) -> pb.ScorePublication:
        resp = self.import_scores(score_csv(people))
        assert not resp.errors, resp.errors
        return self.stub().PublishScores(
            pb.PublishScoresRequest(version=resp.imported.version), metadata=self.province()
        )

    def settings(
        self,
        lines: dict[str, dict[str, int]],
        ratio: int = 100,
        tie_break: Sequence[str] = ("专业课", "公共课"),
        solicitation: dict[str, bool] | None = None,
        order: Sequence[str] = ("jdlk", "ordinary"),
    ) -> pb.AdmissionSettings:
        solicitation = solicitation or {}
        msg = pb.AdmissionSettings(
            batches=[
                pb.BatchSettings(
                    code=code,
                    name=BATCH_NAMES[code],
                    jdlk_only=code == "jdlk",
                    ratio_percent=ratio,
                    solicitation=solicitation.get(code, True),
                    control_lines=[pb.ControlLine(major_category=c, line=v) for c, v in lines[code].items()],
                )
                for code in order
            ],
            tie_break=list(tie_break),
            random_seed="2026-山西专升本",
        )
        return self.stub().SaveAdmissionSettings(msg, metadata=self.province())

    def run(self) -> pb.Run:
        return self.stub().StartRun(pb.StartRunRequest(), metadata=self.province(), timeout=120)

    def publish_run(self, run_id: int) -> pb.Run:
        return self.stub().PublishRun(pb.PublishRunRequest(run_id=run_id), metadata=self.province(), timeout=120)

    def explain(self, run_id: int, no: str) -> pb.CandidateOutcome:
        req = pb.ExplainCandidateRequest(run_id=run_id, candidate_no=no)
        return self.stub().ExplainCandidate(req, metadata=self.province())

    def plans(self, run_id: int) -> dict[tuple[int, str, str], pb.RunPlan]:
        resp = self.stub().GetRun(pb.GetRunRequest(run_id=run_id), metadata=self.province())
        return {(p.stage_index, p.institution_code, p.major_code): p for p in resp.plans}

    def review_window(self, phase_index: int, from_hours: float = -1, to_hours: float = 1) -> None:
        now = int(time.time())
        req = pb.SetReviewWindowRequest(
            phase_index=phase_index, opens_at=now + int(from_hours * 3600), closes_at=now + int(to_hours * 3600)
        )
        self.stub().SetReviewWindow(req, metadata=self.province())

    def close_windows(self, phase_index: int) -> None:
        """Move the phase's windows into the past, as time passing would."""
        now = int(time.time())
        with self.db.unit_of_work() as session:
            row = session.execute(phases.select().where(phases.c.phase_index == phase_index)).one()
            values = {}
            if row.review_closes_at is not None:
                values.update(review_opens_at=from_unix(now - 7200), review_closes_at=from_unix(now - 3600))
            if row.solicit_closes_at is not None:
                values.update(solicit_opens_at=from_unix(now - 7200), solicit_closes_at=from_unix(now - 60))
            if values:
                session.execute(update(phases).where(phases.c.phase_index == phase_index).values(**values))

    def open_solicitation(self, batch: str, from_hours: float = -1, to_hours: float = 1) -> pb.Phase:
        now = int(time.time())
        req = pb.OpenSolicitationRequest(
            batch_code=batch, opens_at=now + int(from_hours * 3600), closes_at=now + int(to_hours * 3600)
        )
        return self.stub().OpenSolicitation(req, metadata=self.province())

    def results(self, no: str) -> pb.CandidateResults:
        return self.stub().GetMyResults(pb.GetMyResultsRequest(), metadata=self.candidate(no))


def start(service_settings, database_url: str, bearer) -> Harness:
    runtime = ServiceRuntime(WITHOUT_CONSUMERS, service_settings("results", database_url))
    runtime.start()
    return Harness(runtime, bearer)
