"""资料上传 (manual 2.8.6): the candidate's materials, checked by content, kept in a private bucket.

Files are served only through this service: to their owner, or to staff whose scope covers the
candidate; there are no public URLs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from services.registration.adapters import Candidate, DocumentRow
from services.registration.domain import DocumentKind
from services.registration.service.common import Snapshot, Store
from zsb.common.clock import utcnow
from zsb.common.errors import FailedPrecondition, InvalidArgument, NotFound
from zsb.common.objectstore import ObjectStore
from zsb.common.principal import current_principal, require_candidate, require_scope
from zsb.common.runtime import ServiceContext
from zsb.common.uploads import check_upload

FILES_PER_KIND = 5
CHUNK_BYTES = 2 * 1024 * 1024
_EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def parse_kind(value: str) -> DocumentKind:
    try:
        return DocumentKind(value)
    except ValueError:
        raise InvalidArgument("请选择材料类别", reason="BAD_KIND", field="kind") from None


@dataclass
class Chunk:
    document: DocumentRow
    data: bytes
    total_size: int


class DocumentsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._store: ObjectStore | None = None

    @property
    def objects(self) -> ObjectStore:
        if self._store is None:
            self._store = self.ctx.object_store("documents")
        return self._store

    def upload(self, kind_value: str, filename: str, declared_type: str, data: bytes) -> tuple[DocumentRow, Snapshot]:
        me, kind = require_candidate(), parse_kind(kind_value)
        with self.ctx.db.unit_of_work() as session:  # refuse early, before the costly checks
            store = Store(self.ctx, session)
            store.candidates.load(store.candidate(me.subject)).check_can_change_documents(kind)
        checked = check_upload(data, filename, declared_type)  # by content; normalized bytes
        doc_id = uuid.uuid4().hex
        key = f"{me.subject}/{doc_id}.{_EXTENSIONS[checked.content_type]}"
        # The object first: a row must never point at nothing. A crash in between leaves an
        # unreferenced object, which costs space but shows nothing to anyone.
        self.objects.put(key, checked.data, checked.content_type)
        try:
            with self.ctx.db.unit_of_work() as session:
                store = Store(self.ctx, session)
                row = store.candidate(me.subject, for_update=True)
                reg = store.candidates.load(row)
                reg.check_can_change_documents(kind)
                count = session.scalar(
                    select(func.count())
                    .select_from(DocumentRow)
                    .where(DocumentRow.candidate_no == me.subject, DocumentRow.kind == kind.value)
                )
                if (count or 0) >= FILES_PER_KIND:
                    raise FailedPrecondition(
                        f"每类材料最多上传{FILES_PER_KIND}个文件，请先删除不需要的文件", reason="TOO_MANY_FILES"
                    )
                doc = DocumentRow(
                    id=doc_id,
                    candidate_no=me.subject,
                    kind=kind.value,
                    object_key=key,
                    content_type=checked.content_type,
                    display_name=checked.display_name,
                    size=checked.size,
                    sha256=checked.sha256,
                    page_count=checked.page_count,
                    width=checked.width,
                    height=checked.height,
                    mismatch=checked.mismatch[:200],
                    uploaded_at=utcnow(),
                )
                session.add(doc)
                session.flush()
                return doc, store.snapshot(row, reg)
        except BaseException:
            self.objects.delete(key)
            raise

    def delete(self, document_id: str) -> Snapshot:
        me = require_candidate()
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = store.candidate(me.subject, for_update=True)
            doc = session.get(DocumentRow, (document_id or "")[:32])
            if doc is None or doc.candidate_no != me.subject:
                raise NotFound("文件不存在", reason="NO_DOCUMENT", field="document_id")
            reg = store.candidates.load(row)
            reg.check_can_change_documents(DocumentKind(doc.kind))
            key = doc.object_key
            session.delete(doc)
            session.flush()
            snapshot = store.snapshot(row, reg)
        self.objects.delete(key)
        return snapshot

    def submit(self) -> Snapshot:
        """确定: 待上传 (or 审核不通过) → 审核中, when every required kind has a file."""
        me = require_candidate()
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = store.candidate(me.subject, for_update=True)
            kinds = {DocumentKind(d.kind) for d in store.documents(me.subject)}
            reg = store.candidates.load(row).submit_documents(kinds, now)
            store.candidates.save(row, reg)
            return store.snapshot(row, reg)

    def read(self, document_id: str, offset: int, limit: int) -> Chunk:
        """A slice of a file, for its owner or for staff in scope."""
        caller = current_principal()
        if offset < 0 or limit < 0:
            raise InvalidArgument("读取范围不正确", reason="BAD_RANGE", field="offset")
        limit = min(limit or CHUNK_BYTES, CHUNK_BYTES)
        with self.ctx.db.unit_of_work() as session:
            doc = session.get(DocumentRow, (document_id or "")[:32])
            missing = NotFound("文件不存在", reason="NO_DOCUMENT", field="document_id")
            if doc is None:
                raise missing
            if caller.is_staff:
                owner = session.get(Candidate, doc.candidate_no)
                if owner is None:
                    raise missing
                require_scope(owner.city_code, owner.point_code)
            elif doc.candidate_no != require_candidate().subject:
                raise missing  # another candidate's file: do not even confirm it exists
        data = self.objects.get(doc.object_key)
        return Chunk(doc, data[offset : offset + limit], len(data))
