"""gRPC servicer of the results service: messages in, use cases called, messages out."""

from __future__ import annotations

import json

import grpc

from services.results.domain.admission import AdmissionConfig, BatchConfig, PlanEntry
from services.results.domain.settings import AdmissionSettings
from services.results.service.common import unix
from services.results.service.review import ReviewService, SolicitationStatus, VacancyRow, check_batch_code
from services.results.service.runs import DRY, Outcome, RunsService, list_phases, list_staff_actions
from services.results.service.scores import AMEND, REPLACE, ScoresService
from services.results.service.settings import SettingsService
from services.results.service.stats import Count, StatsService
from services.results.service.views import ResultsView, ViewsService
from zsb.common.clock import utcnow
from zsb.common.errors import InvalidArgument
from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext
from zsb.results.v1 import results_pb2 as pb
from zsb.results.v1 import results_pb2_grpc

_MODES = {pb.REPLACE: REPLACE, pb.AMEND: AMEND}
MAX_LIMIT = 5000


def _plan_fields(plan: PlanEntry | None) -> dict:
    if plan is None:
        return {}
    return {
        "institution_code": plan.institution,
        "institution_name": plan.institution_name,
        "major_code": plan.major,
        "major_name": plan.major_name,
    }


def _outcome(o: Outcome) -> pb.CandidateOutcome:
    return pb.CandidateOutcome(
        candidate_no=o.candidate_no,
        admission_total=o.admission_total,
        order=o.order,
        dispatched=o.dispatched,
        batch_code=o.batch_code,
        batch_name=o.batch_name,
        stage=o.stage,
        slot=o.slot,
        explanation=o.explanation,
        run_id=o.run_id,
        **_plan_fields(o.plan),
    )


def _run(row, revision: int, labels: dict[int, str]) -> pb.Run:
    return pb.Run(
        id=row.id,
        phase_index=row.phase_index,
        batch_code=row.batch_code,
        stage=row.stage,
        label=labels.get(row.phase_index, row.batch_code),
        status=row.status,
        actor=row.actor,
        started_at=unix(row.started_at),
        seconds=row.millis / 1000,
        candidates=row.candidates,
        dispatched=row.dispatched,
        placed=row.placed,
        stale=row.status == DRY and row.revision != revision,
        score_publication=row.score_publication,
        plan_version=row.plan_version,
    )


def _vacancy(v: VacancyRow) -> pb.Vacancy:
    return pb.Vacancy(
        institution_code=v.institution_code,
        institution_name=v.institution_name,
        major_code=v.major_code,
        major_name=v.major_name,
        major_category=v.major_category,
        places=v.places,
        admitted=v.admitted,
        vacancies=v.vacancies,
    )


def _solicitation(s: SolicitationStatus) -> pb.SolicitationInfo:
    return pb.SolicitationInfo(
        batch_code=s.batch_code,
        batch_name=s.batch_name,
        opens_at=unix(s.opens_at),
        closes_at=unix(s.closes_at),
        open=s.open,
        eligible=s.eligible,
        reason=s.reason,
        submitted=s.version > 0,
        version=s.version,
    )


def _results(view: ResultsView) -> pb.CandidateResults:
    out = pb.CandidateResults(candidate_no=view.candidate_no, name=view.name, note=view.note)
    s = view.scores
    if s is not None:
        out.scores.CopyFrom(
            pb.ScoreCard(
                published=True,
                published_at=unix(s.published_at),
                total=s.total,
                subjects=[pb.SubjectScore(name=n, points=p or 0, taken=p is not None) for n, p in s.subjects],
                bonus_points=s.bonus,
                admission_total=s.admission_total,
                rank=s.rank,
                category_candidates=s.category_candidates,
                major_category=s.major_category,
            )
        )
    a = view.admission
    if a is not None:
        result = pb.AdmissionResult(
            published=True,
            participated=a.outcome is not None,
            phase_label=a.phase_label,
            final=a.final,
            published_at=unix(a.published_at),
            returned=a.returned,
            return_reason=a.return_reason,
            admitted=a.admitted,
        )
        o = a.outcome
        if o is not None:
            result.dispatched = o.dispatched and not a.returned
            result.explanation = o.explanation
            if o.dispatched:
                result.batch_code, result.batch_name, result.stage, result.slot = (
                    o.batch_code,
                    o.batch_name,
                    o.stage,
                    o.slot,
                )
                for key, value in _plan_fields(o.plan).items():
                    setattr(result, key, value)
        out.admission.CopyFrom(result)
    out.solicitations.extend(_solicitation(x) for x in view.solicitations)
    return out


def _settings_from(msg: pb.AdmissionSettings) -> AdmissionSettings:
    batches = []
    for b in msg.batches:
        lines: dict[str, int] = {}
        for line in b.control_lines:
            category = line.major_category.strip()
            if not category:
                continue
            if category in lines:
                raise InvalidArgument(f"{b.name}: {category} 类控制线重复", reason="DUPLICATE_LINE")
            lines[category] = line.line
        batches.append(
            BatchConfig(
                code=b.code.strip(),
                name=b.name.strip(),
                jdlk_only=b.jdlk_only,
                control_lines=lines,
                default_line=b.default_line if b.has_default_line else None,
                ratio_percent=b.ratio_percent,
                solicitation=b.solicitation,
            )
        )
    tie_break = tuple(t.strip() for t in msg.tie_break if t.strip())
    return AdmissionSettings(AdmissionConfig(tuple(batches), tie_break), msg.random_seed.strip())


class ResultsServicer(results_pb2_grpc.ResultsServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.scores = ScoresService(ctx)
        self.settings = SettingsService(ctx)
        self.runs = RunsService(ctx)
        self.review = ReviewService(ctx)
        self.views = ViewsService(ctx, self.runs, self.review)
        self.stats = StatsService(ctx, self.runs)

    # ---- scores ----

    def ImportScores(self, request: pb.ImportScoresRequest, context: grpc.ServicerContext) -> pb.ImportScoresResponse:
        mode = _MODES.get(request.mode, "")
        outcome = self.scores.import_scores(request.filename, request.content, mode, request.note)
        resp = pb.ImportScoresResponse(
            errors=[pb.RowError(line=p.line, column=p.column, message=p.message) for p in outcome.problems],
            error_count=outcome.problem_count,
        )
        if outcome.version:
            rows, publication = self.scores.list_imports()
            row = next(r for r in rows if r.version == outcome.version)
            resp.imported.CopyFrom(self._import(row, publication))
        return resp

    @staticmethod
    def _import(row, publication) -> pb.ScoreImport:
        return pb.ScoreImport(
            version=row.version,
            mode=row.mode,
            filename=row.filename,
            sha256=row.sha256,
            rows=row.rows,
            total=row.total,
            changed=row.changed,
            subjects=json.loads(row.subjects_json),
            note=row.note,
            actor=row.actor,
            imported_at=unix(row.imported_at),
            published=publication is not None and publication.import_version == row.version,
        )

    def ListScoreImports(
        self, request: pb.ListScoreImportsRequest, context: grpc.ServicerContext
    ) -> pb.ListScoreImportsResponse:
        rows, publication = self.scores.list_imports()
        resp = pb.ListScoreImportsResponse(imports=[self._import(r, publication) for r in rows])
        if publication is not None:
            resp.publication.CopyFrom(self._publication(publication))
        return resp

    def _publication(self, row) -> pb.ScorePublication:
        return pb.ScorePublication(
            id=row.id,
            import_version=row.import_version,
            published_at=unix(row.published_at),
            actor=row.actor,
            candidates=row.candidates,
            band_width=row.band_width,
        )

    def PublishScores(self, request: pb.PublishScoresRequest, context: grpc.ServicerContext) -> pb.ScorePublication:
        self.scores.publish(request.version)
        _, publication = self.scores.list_imports()
        return self._publication(publication)

    # ---- settings and phases ----

    def GetAdmissionSettings(
        self, request: pb.GetAdmissionSettingsRequest, context: grpc.ServicerContext
    ) -> pb.AdmissionSettings:
        view = self.settings.get()
        return pb.AdmissionSettings(
            batches=[
                pb.BatchSettings(
                    code=b.code,
                    name=b.name,
                    jdlk_only=b.jdlk_only,
                    ratio_percent=b.ratio_percent,
                    solicitation=b.solicitation,
                    has_default_line=b.default_line is not None,
                    default_line=b.default_line or 0,
                    control_lines=[
                        pb.ControlLine(major_category=c, line=v) for c, v in sorted(b.control_lines.items())
                    ],
                )
                for b in view.settings.config.batches
            ],
            tie_break=list(view.settings.config.tie_break),
            random_seed=view.settings.random_seed,
            version=view.version,
            updated_by=view.updated_by,
            updated_at=unix(view.updated_at),
            subjects=view.subjects,
            categories=view.categories,
            frozen=view.published_batches > 0,
        )

    def SaveAdmissionSettings(
        self, request: pb.AdmissionSettings, context: grpc.ServicerContext
    ) -> pb.AdmissionSettings:
        self.settings.save(_settings_from(request))
        return self.GetAdmissionSettings(pb.GetAdmissionSettingsRequest(), context)

    def ListPhases(self, request: pb.ListPhasesRequest, context: grpc.ServicerContext) -> pb.ListPhasesResponse:
        now = utcnow()
        out = []
        for phase, row, is_next in list_phases(self.ctx):
            msg = pb.Phase(
                index=phase.index,
                batch_code=phase.batch.code,
                batch_name=phase.batch.name,
                stage=phase.stage.value,
                label=phase.label,
                published=row is not None,
                is_next=is_next,
            )
            if row is not None:
                msg.run_id = row.run_id
                msg.published_at = unix(row.published_at)
                msg.review_opens_at = unix(row.review_opens_at)
                msg.review_closes_at = unix(row.review_closes_at)
                msg.review_open = bool(row.review_opens_at and row.review_opens_at <= now < row.review_closes_at)
                msg.solicit_opens_at = unix(row.solicit_opens_at)
                msg.solicit_closes_at = unix(row.solicit_closes_at)
                msg.vacancies_published = row.vacancies_at is not None
            out.append(msg)
        return pb.ListPhasesResponse(phases=out)

    # ---- runs ----

    def _run_message(self, run_id: int) -> pb.Run:
        rows, revision, labels = self.runs.list_runs()
        row = next((r for r in rows if r.id == run_id), None)
        if row is None:
            return pb.Run(id=run_id)
        return _run(row, revision, labels)

    def StartRun(self, request: pb.StartRunRequest, context: grpc.ServicerContext) -> pb.Run:
        return self._run_message(self.runs.start())

    def ListRuns(self, request: pb.ListRunsRequest, context: grpc.ServicerContext) -> pb.ListRunsResponse:
        rows, revision, labels = self.runs.list_runs()
        return pb.ListRunsResponse(runs=[_run(r, revision, labels) for r in rows])

    def GetRun(self, request: pb.GetRunRequest, context: grpc.ServicerContext) -> pb.GetRunResponse:
        limit = min(request.limit or 500, MAX_LIMIT)
        run, revision, labels, rows, truncated = self.runs.get_run(
            request.run_id, request.query[:30], request.major_category.strip()[:4], limit
        )
        resp = pb.GetRunResponse(
            run=_run(run, revision, {run.phase_index: labels[-1]}), truncated=truncated, stages=labels
        )
        for s, stage, plan, f in rows:
            resp.plans.append(
                pb.RunPlan(
                    stage_index=s,
                    batch_code=plan.batch,
                    stage=stage.value,
                    major_category=plan.category,
                    places=plan.places,
                    **_plan_fields(plan),
                    **f,
                    admitted=f["dispatched"] - f["returned"],
                )
            )
        return resp

    def ExplainCandidate(
        self, request: pb.ExplainCandidateRequest, context: grpc.ServicerContext
    ) -> pb.CandidateOutcome:
        return _outcome(self.runs.explain(request.run_id, request.candidate_no.strip()[:14]))

    def DiscardRun(self, request: pb.DiscardRunRequest, context: grpc.ServicerContext) -> pb.Run:
        self.runs.discard(request.run_id)
        return pb.Run(id=request.run_id, status="discarded")

    def PublishRun(self, request: pb.PublishRunRequest, context: grpc.ServicerContext) -> pb.Run:
        self.runs.publish_run(request.run_id)
        return self._run_message(request.run_id)

    # ---- review, 退档, 征集志愿 ----

    def _phase(self, index: int) -> pb.Phase:
        phases = self.ListPhases(pb.ListPhasesRequest(), None).phases  # type: ignore[arg-type]
        return next((p for p in phases if p.index == index), pb.Phase(index=index))

    def SetReviewWindow(self, request: pb.SetReviewWindowRequest, context: grpc.ServicerContext) -> pb.Phase:
        self.review.set_review_window(request.phase_index, request.opens_at, request.closes_at)
        return self._phase(request.phase_index)

    def ReturnCandidate(self, request: pb.ReturnCandidateRequest, context: grpc.ServicerContext) -> pb.ReturnRecord:
        self.review.return_candidate(request.candidate_no, request.reason)
        found = [
            r
            for r in self.ListReturns(pb.ListReturnsRequest(), context).returns
            if r.candidate_no == request.candidate_no.strip()
        ]
        return found[0] if found else pb.ReturnRecord(candidate_no=request.candidate_no)

    def ListReturns(self, request: pb.ListReturnsRequest, context: grpc.ServicerContext) -> pb.ListReturnsResponse:
        return pb.ListReturnsResponse(
            returns=[
                pb.ReturnRecord(
                    candidate_no=r.candidate_no,
                    batch_code=r.batch_code,
                    stage=r.stage,
                    institution_code=r.institution_code,
                    institution_name=r.institution_name,
                    major_code=r.major_code,
                    major_name=r.major_name,
                    reason=r.reason,
                    actor=r.actor,
                    at=unix(r.at),
                )
                for r in self.review.list_returns()
            ]
        )

    def OpenSolicitation(self, request: pb.OpenSolicitationRequest, context: grpc.ServicerContext) -> pb.Phase:
        code = check_batch_code(request.batch_code)
        self.review.open_solicitation(code, request.opens_at, request.closes_at)
        phases = self.ListPhases(pb.ListPhasesRequest(), context).phases
        return next(p for p in phases if p.batch_code == code and p.stage == "regular")

    def ListVacancies(
        self, request: pb.ListVacanciesRequest, context: grpc.ServicerContext
    ) -> pb.ListVacanciesResponse:
        rows = self.review.list_vacancies(check_batch_code(request.batch_code))
        return pb.ListVacanciesResponse(vacancies=[_vacancy(v) for v in rows])

    def ListStaffActions(
        self, request: pb.ListStaffActionsRequest, context: grpc.ServicerContext
    ) -> pb.ListStaffActionsResponse:
        return pb.ListStaffActionsResponse(
            actions=[
                pb.StaffAction(
                    id=r.id,
                    at=unix(r.at),
                    actor=r.actor,
                    actor_role=r.actor_role,
                    action=r.action,
                    subject=r.subject,
                    detail=r.detail,
                )
                for r in list_staff_actions(self.ctx, request.limit or 100)
            ]
        )

    # ---- candidates and staff lookups ----

    def LookupCandidate(self, request: pb.LookupCandidateRequest, context: grpc.ServicerContext) -> pb.CandidateResults:
        return _results(self.views.lookup(request.candidate_no))

    def GetResultsStats(self, request: pb.GetResultsStatsRequest, context: grpc.ServicerContext) -> pb.ResultsStats:
        v = self.stats.stats()

        def counts(rows: list[Count]) -> list[pb.AdmissionCount]:
            return [
                pb.AdmissionCount(
                    key=c.key, label=c.label, dispatched=c.dispatched, admitted=c.admitted, returned=c.returned
                )
                for c in rows
            ]

        return pb.ResultsStats(
            scores_published=v.scores_published_at is not None,
            scores_published_at=unix(v.scores_published_at),
            band_width=v.band_width,
            scored=v.scored,
            bands=[
                pb.CategoryBands(
                    major_category=b.major_category,
                    candidates=b.candidates,
                    highest=b.highest,
                    bands=[pb.StatsBand(low=x.low, high=x.high, count=x.count) for x in b.bands],
                )
                for b in v.bands
            ],
            admission_published=v.phase is not None,
            phase_label=v.phase.label if v.phase else "",
            final=v.final,
            admission_published_at=unix(v.admission_published_at),
            participants=v.participants,
            by_batch=counts(v.by_batch),
            by_institution=counts(v.by_institution),
            by_major=counts(v.by_major),
            solicitations=[
                pb.SolicitationCount(
                    batch_code=x.batch_code,
                    batch_name=x.batch_name,
                    vacancies=x.vacancies,
                    applicants=x.applicants,
                    dispatched=x.dispatched,
                )
                for x in v.solicitations
            ],
        )

    def GetMyResults(self, request: pb.GetMyResultsRequest, context: grpc.ServicerContext) -> pb.CandidateResults:
        return _results(self.views.my_results())

    def GetScoreBands(self, request: pb.GetScoreBandsRequest, context: grpc.ServicerContext) -> pb.ScoreBands:
        view, note = self.views.bands()
        if view is None:
            return pb.ScoreBands(published=False, note=note)
        mine = view.my_total
        bands = [
            pb.ScoreBand(low=lo, high=hi, count=c, cumulative=cum, mine=mine is not None and lo <= mine <= hi)
            for lo, hi, c, cum in view.bands
        ]
        return pb.ScoreBands(
            published=True,
            major_category=view.major_category,
            band_width=view.band_width,
            candidates=bands[-1].cumulative if bands else 0,
            bands=bands,
            published_at=unix(view.published_at),
            my_admission_total=mine or 0,
            highest_count=max((b.count for b in bands), default=0),
        )

    def GetSolicitationForm(
        self, request: pb.GetSolicitationFormRequest, context: grpc.ServicerContext
    ) -> pb.SolicitationForm:
        info, offered, current = self.review.form(check_batch_code(request.batch_code))
        form = pb.SolicitationForm(
            info=_solicitation(info),
            vacancies=[_vacancy(v) for v in offered],
            current=[pb.SolicitationChoice(slot=s, institution_code=i, major_code=m) for s, i, m in current],
            editable=info.eligible and info.open,
        )
        if info.barred:
            form.barred_institution_code, form.barred_major_code = info.barred
        return form

    def SubmitSolicitation(
        self, request: pb.SubmitSolicitationRequest, context: grpc.ServicerContext
    ) -> pb.SubmitSolicitationResponse:
        if len(request.choices) > 8:
            raise InvalidArgument("征集志愿最多8个", reason="TOO_MANY", field="choices")
        errors, version = self.review.submit(
            check_batch_code(request.batch_code),
            [(c.slot[:2], c.institution_code[:16], c.major_code[:16]) for c in request.choices],
        )
        return pb.SubmitSolicitationResponse(
            errors=[pb.SlotError(slot=s, message=m) for s, m in errors], version=version
        )


def registrars(ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(
            results_pb2_grpc.add_ResultsServiceServicer_to_server,
            ResultsServicer(ctx),
            pb.DESCRIPTOR.services_by_name["ResultsService"],
        )
    ]
