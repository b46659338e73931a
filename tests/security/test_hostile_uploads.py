"""Hostile uploads end to end: a logged-in browser session posts them through the gateway's real
forms (资料上传, identity photos, staff imports) to the services, which store in MinIO.

Each refused file gets its page back with a 4xx status and a Chinese reason, and leaves nothing
behind: the bucket (listed directly) and the tables (queried directly) are as before. Accepted
files are stored as their normalized form (payloads hidden in them are gone), under keys the
service makes (never the uploaded name), in buckets that refuse anonymous access.
"""

from __future__ import annotations

import io
import re
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from openpyxl import Workbook
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from sqlalchemy import create_engine, text

from tests.conftest import System
from tests.security.client import hidden, staff
from tests.security.journey import at_documents, at_identity
from zsb.common.objectstore import ObjectStore, open_object_store

# Building candidates waits for several services' events: more than the default 300 s under load.
pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

MB = 1024 * 1024
STACK_TRACE = re.compile(r"Traceback \(most recent call last\)|File \"/|grpc\._channel|sqlalchemy\.exc")
SCRIPT = b"<script>alert(document.cookie)</script>"


# ---- files -------------------------------------------------------------------------------------


def jpeg(size: tuple[int, int] = (400, 300), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "navy").save(out, "JPEG", **save)
    return out.getvalue()


def png(size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG")
    return out.getvalue()


def pdf(javascript: bool = False) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    if javascript:
        writer.add_open_action(JavaScript("app.alert('pwned')"))
        writer.add_attachment("payload.html", SCRIPT)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_archive(**members: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def png_bomb(side: int = 30000) -> bytes:
    """A real PNG of side×side grey pixels, all zero: under 1 MB that decodes to ~900 MB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte + pixels
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_with_huge_header(side: int = 60000) -> bytes:
    """A small JPEG whose frame header claims side×side pixels."""
    data = bytearray(jpeg((64, 48)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def with_comment(image: bytes, comment: bytes) -> bytes:
    """A JPEG with a COM segment right after SOI (where polyglot payloads hide)."""
    return image[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + image[2:]


def xlsx_bomb(megabytes: int = 300) -> bytes:
    """An .xlsx with the right header row whose sheet unpacks to hundreds of MB (a zip bomb)."""
    wb = Workbook()
    wb.active.append(["考生号", "姓名", "身份证号", "手机号", "报名点"])
    plain = io.BytesIO()
    wb.save(plain)
    source = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    cell = b'<row r="2"><c r="A2" t="inlineStr"><is><t>' + b"1" * (megabytes * MB) + b"</t></is></c></row>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in source.namelist():
            part = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                part = part.replace(b"</sheetData>", cell + b"</sheetData>")
            archive.writestr(name, part)
    return out.getvalue()


@dataclass(frozen=True)
class Refused:
    name: str
    filename: str
    data: bytes
    content_type: str
    message: str  # the Chinese reason the page must show


HTML_PAGE = b"<!DOCTYPE html><html><body>" + SCRIPT + b"</body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">' + SCRIPT + b"</svg>"
# Refused by the content, whatever the name says; the document rules (PDF, JPG, PNG).
REFUSED_DOCUMENTS = [
    Refused("html named .png", "scan.png", HTML_PAGE, "image/png", "文件类型不符"),
    Refused("svg named .png", "scan.png", SVG, "image/png", "文件类型不符"),
    Refused("svg as itself", "scan.svg", SVG, "image/svg+xml", "文件类型不符"),
    Refused("exe named .pdf", "scan.pdf", b"MZ\x90\x00" + b"\0" * 200, "application/pdf", "文件类型不符"),
    Refused("zip named .pdf", "scan.pdf", zip_archive(**{"a.html": HTML_PAGE}), "application/pdf", "文件类型不符"),
    Refused("gif named .jpg", "scan.jpg", b"GIF89a" + b"\0" * 100, "image/jpeg", "文件类型不符"),
    Refused("html behind a jpeg signature", "scan.jpg", b"\xff\xd8\xff" + HTML_PAGE, "image/jpeg", "文件已损坏"),
    Refused("html behind a png signature", "scan.png", b"\x89PNG\r\n\x1a\n" + HTML_PAGE, "image/png", "文件已损坏"),
    Refused("png decompression bomb", "bomb.png", png_bomb(), "image/png", "图片像素过大（30000×30000）"),
    Refused("jpeg with huge dimensions", "huge.jpg", jpeg_with_huge_header(), "image/jpeg", "图片像素过大"),
    Refused("truncated jpeg", "cut.jpg", jpeg()[:600], "image/jpeg", "文件已损坏"),
    Refused("truncated png", "cut.png", png()[:300], "image/png", "文件已损坏"),
    Refused("truncated pdf", "cut.pdf", pdf()[:-200], "application/pdf", "文件已损坏"),
    Refused("empty file", "empty.pdf", b"", "application/pdf", "文件为空"),
    Refused("over the service limit", "big.pdf", b"%PDF-1.4\n" + b"0" * (11 * MB), "application/pdf", "文件过大"),
]
# The identity photos take only images: a PDF, even a clean one, is refused there.
REFUSED_PHOTOS = [
    *(r for r in REFUSED_DOCUMENTS if r.name != "truncated pdf"),
    Refused("pdf named .jpg", "photo.jpg", pdf(), "image/jpeg", "只能上传JPG、PNG文件"),
]


# ---- direct looks at the stores --------------------------------------------------------------


def bucket(system: System, service: str, purpose: str) -> ObjectStore:
    return open_object_store(system.platform.procs[service].env["OBJECT_STORE_URL"], f"zsb-{service}-{purpose}")


def rows(system: System, service: str, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(system.database_url(service))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def count(system: System, service: str, table: str) -> int:
    return rows(system, service, f"SELECT COUNT(*) FROM {table}")[0][0]  # noqa: S608 - fixed names


def post_file(
    s: requests.Session, url: str, fields: dict[str, str], filename: str, data: bytes, content_type: str
) -> requests.Response:
    return s.post(url, data=fields, files={"file": (filename, data, content_type)}, allow_redirects=False, timeout=120)


def assert_refused_page(resp: requests.Response, message: str) -> None:
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("text/html")
    assert message in resp.text, (message, re.findall(r'role="alert">([^<]*)<', resp.text))
    assert not STACK_TRACE.search(resp.text)


def assert_private(system: System, infra_env: dict[str, str], name: str, key: str) -> None:
    """Anonymous requests to MinIO get neither the object nor the bucket's listing."""
    endpoint = f"http://{infra_env['MINIO_ENDPOINT']}"
    assert requests.get(f"{endpoint}/{name}/{key}", timeout=10).status_code == 403
    assert requests.get(f"{endpoint}/{name}?list-type=2", timeout=10).status_code == 403
    assert requests.put(f"{endpoint}/{name}/{key}.evil", data=b"x", timeout=10).status_code == 403


# ---- 资料上传 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents(system: System) -> Iterator[tuple[str, requests.Session, dict[str, str]]]:
    """(考生号, session, the upload form's fields) of a candidate at 资料上传."""
    number, s = at_documents(system, "资料甲")
    page = s.get(system.url("/registration/documents"), timeout=20)
    assert page.status_code == 200 and 'name="kind" value="poverty_registered"' in page.text, page.text[:500]
    yield number, s, {"csrf_token": hidden(page.text)["csrf_token"], "kind": "poverty_registered"}


def test_hostile_documents_are_refused_and_leave_nothing(system: System, documents) -> None:
    number, s, fields = documents
    store = bucket(system, "registration", "documents")
    before = store.list(f"{number}/")
    for case in REFUSED_DOCUMENTS:
        resp = post_file(s, system.url("/registration/documents"), fields, case.filename, case.data, case.content_type)
        assert_refused_page(resp, case.message)
    assert store.list(f"{number}/") == before
    assert rows(system, "registration", "SELECT id FROM documents WHERE candidate_no = :n", n=number) == []


def test_a_body_over_the_gateway_limit_is_413_with_a_chinese_page(system: System, documents) -> None:
    number, s, fields = documents
    resp = post_file(
        s, system.url("/registration/documents"), fields, "big.pdf", b"%PDF-" + b"0" * (17 * MB), "application/pdf"
    )
    assert resp.status_code == 413
    assert "上传的文件过大" in resp.text and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert rows(system, "registration", "SELECT id FROM documents WHERE candidate_no = :n", n=number) == []


def test_no_file_or_an_unnamed_file_is_asked_for_again(system: System, documents) -> None:
    _, s, fields = documents
    resp = s.post(system.url("/registration/documents"), data=fields, timeout=20)
    assert_refused_page(resp, "请选择要上传的文件")
    resp = post_file(s, system.url("/registration/documents"), fields, "", pdf(), "application/pdf")
    assert_refused_page(resp, "请选择要上传的文件")


POLYGLOTS = {
    # name: (filename, bytes, a payload that must not survive in the stored object)
    "jpeg that is also a zip": ("scan.jpg", jpeg() + zip_archive(**{"index.html": HTML_PAGE}), b"PK\x03\x04"),
    "jpeg with html in a comment": ("scan.jpg", with_comment(jpeg(), HTML_PAGE), b"<script"),
    "png with html after its end": ("scan.png", png() + HTML_PAGE, b"<script"),
    "pdf with a script and an attachment": ("scan.pdf", pdf(javascript=True) + HTML_PAGE, b"JavaScript"),
    "pdf named .jpg": ("scan.jpg", pdf(), SCRIPT),
}


def test_polyglots_are_stored_normalized_private_and_served_as_what_they_are(
    system: System, documents, infra_env: dict[str, str]
) -> None:
    number, s, fields = documents
    store = bucket(system, "registration", "documents")
    for name, (filename, data, payload) in POLYGLOTS.items():
        resp = post_file(s, system.url("/registration/documents"), fields, filename, data, "application/octet-stream")
        assert resp.status_code == 302, (name, resp.status_code, resp.text[:300])
        doc_id, key, content_type = rows(
            system,
            "registration",
            "SELECT id, object_key, content_type FROM documents WHERE candidate_no = :n ORDER BY uploaded_at DESC",
            n=number,
        )[0]
        stored = store.get(key)
        assert payload not in stored and SCRIPT not in stored, name
        assert re.fullmatch(rf"{number}/[0-9a-f]{{32}}\.(pdf|jpg|png)", key), key
        assert stored.startswith(
            b"%PDF-" if content_type == "application/pdf" else b"\xff\xd8" if "jpeg" in content_type else b"\x89PNG"
        )
        served = s.get(system.url(f"/registration/documents/{doc_id}"), timeout=20)
        assert served.status_code == 200 and served.content == stored
        assert served.headers["Content-Type"] == content_type and served.headers["X-Content-Type-Options"] == "nosniff"
        assert_private(system, infra_env, "zsb-registration-documents", key)
    # The PDF named .jpg is kept as the PDF it is, and the page says so.
    assert "与文件内容（PDF）不符" in s.get(system.url("/registration/documents"), timeout=20).text
    anonymous = requests.get(system.url(f"/registration/documents/{doc_id}"), allow_redirects=False, timeout=20)
    assert anonymous.status_code == 302 and not anonymous.content.startswith(b"%PDF")


# Raw name -> what the page may show (a pattern). Only the last path segment survives; the form
# parser may also drop the backslashes of a Windows path (they escape in a quoted header value).
NAMES = {
    "../../etc/passwd.jpg": r"passwd\.jpg",
    "..\\..\\windows\\win.ini.jpg": r"(windows)?win\.ini\.jpg",
    "a\x00b.jpg": r"ab\.jpg",  # sent raw (requests would percent-encode it)
    "\u202egpj.exe": r"gpj\.exe",  # right-to-left override: would show as "exe.jpg"
    "照片" + "长" * 4000 + ".jpg": r"长{76}\.jpg",  # cut to the display limit, extension kept
    '"><img src=x onerror=alert(1)>.jpg': r"[^<>\"]*img src=x onerror=alert\(1\)_\.jpg",
}


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    """A form body whose file name goes on the wire as raw UTF-8 (NUL and quotes included)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    quoted = filename.replace('"', "%22").encode()
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + quoted
        + b'"\r\nContent-Type: image/jpeg\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_path_like_and_hostile_file_names_never_reach_a_path(system: System, documents) -> None:
    number, s, fields = documents
    store = bucket(system, "registration", "documents")
    for raw, shown in NAMES.items():
        for (doc_id,) in rows(system, "registration", "SELECT id FROM documents WHERE candidate_no = :n", n=number):
            s.post(system.url(f"/registration/documents/{doc_id}/delete"), data=fields, timeout=20)
        body, content_type = multipart(fields, raw, jpeg())
        resp = s.post(system.url("/registration/documents"), data=body, headers={"Content-Type": content_type},
                      allow_redirects=False, timeout=60)  # fmt: skip
        assert resp.status_code == 302, (raw[:40], resp.status_code, resp.text[:300])
        (doc_id, key, display), = rows(
            system, "registration",
            "SELECT id, object_key, display_name FROM documents WHERE candidate_no = :n", n=number,
        )  # fmt: skip
        assert re.fullmatch(rf"{number}/[0-9a-f]{{32}}\.jpg", key) and store.exists(key)
        assert re.fullmatch(shown, display), (raw[:40], display)
        assert not any(c in display for c in '/\\\x00\u202e<"'), display
        served = s.get(system.url(f"/registration/documents/{doc_id}"), params={"download": "1"}, timeout=20)
        disposition = served.headers["Content-Disposition"]
        assert disposition.startswith("attachment; filename*=UTF-8''") and re.fullmatch(
            r"[\x21-\x7e ;=*']+", disposition
        )


# ---- identity photos ---------------------------------------------------------------------------


def test_hostile_photos_are_refused_and_leave_nothing(system: System, infra_env: dict[str, str]) -> None:
    number, s = at_identity(system, "照片乙")
    page = s.get(system.url("/identity"), timeout=20)
    fields = {"csrf_token": hidden(page.text)["csrf_token"], "kind": "id_card_back"}
    store = bucket(system, "identity", "photos")
    before = store.list(f"{number}/")
    for case in REFUSED_PHOTOS:
        resp = post_file(s, system.url("/identity/photos"), fields, case.filename, case.data, case.content_type)
        message = "文件过大" if case.name == "over the service limit" else case.message
        assert_refused_page(resp, message)
    resp = post_file(
        s, system.url("/identity/photos"), fields, "big.jpg", b"\xff\xd8\xff" + b"0" * (17 * MB), "image/jpeg"
    )
    assert resp.status_code == 413 and "上传的文件过大" in resp.text
    assert store.list(f"{number}/") == before
    assert rows(system, "identity", "SELECT id FROM photos WHERE candidate_no = :n", n=number) == []

    # A polyglot back side (no face rule for it) is accepted, stored clean and private.
    polyglot = with_comment(jpeg((600, 400)), HTML_PAGE) + zip_archive(**{"index.html": HTML_PAGE})
    resp = post_file(s, system.url("/identity/photos"), fields, "../../back.jpg", polyglot, "image/jpeg")
    assert resp.status_code == 302, resp.text[:300]
    (key,) = rows(system, "identity", "SELECT object_key FROM photos WHERE candidate_no = :n", n=number)[0]
    stored = store.get(key)
    assert stored.startswith(b"\xff\xd8") and SCRIPT not in stored and b"PK\x03\x04" not in stored
    assert key.startswith(f"{number}/id_card_back-") and ".." not in key
    assert_private(system, infra_env, "zsb-identity-photos", key)


# ---- staff imports -----------------------------------------------------------------------------


def test_hostile_import_files_are_refused_and_import_nothing(system: System) -> None:
    tag = uuid.uuid4().hex[:6]
    point = staff(system, f"imp{tag}", "point", point="0113")
    province = staff(system, f"prov{tag}", "province")
    bomb = xlsx_bomb()
    assert len(bomb) < 2 * MB
    broken_sheet = zipfile.ZipFile(io.BytesIO(bomb))  # a workbook whose sheet XML is cut off
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in broken_sheet.namelist():
            archive.writestr(
                name, b"<worksheet><sheetData><row" if name.endswith("sheet1.xml") else broken_sheet.read(name)
            )
    files = {
        "xlsx zip bomb": (bomb, "Excel文件解压后过大"),
        "xlsx with broken XML": (out.getvalue(), "无法读取Excel文件"),
        "html named .xlsx": (HTML_PAGE, "缺少列"),
        "binary named .csv": (b"\x00\x01\x02" * 100, "文件格式不正确"),
        "csv with a giant cell": ("考生号,姓名\n".encode() + b'"' + b"1" * (200 * 1024) + b'",x\n', "CSV格式有误"),
        "empty file": (b"", "文件为空"),
    }
    targets = [
        (point, "/admin/candidates/import", ("auth", "candidate_accounts")),
        (province, "/admin/preferences/plan", ("preferences", "plan_lines")),
        (province, "/admin/results/scores", ("results", "scores")),
    ]
    for session, path, (service, table) in targets:
        before = count(system, service, table)
        token = hidden(session.get(system.url(path), timeout=30).text)["csrf_token"]
        for name, (data, message) in files.items():
            resp = post_file(session, system.url(path), {"csrf_token": token, "mode": "replace"}, "list.xlsx", data,
                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
            if path == "/admin/results/scores" and name == "html named .xlsx":
                message = "导入未完成"  # read as a CSV without the score columns
            assert_refused_page(resp, message)
        assert count(system, service, table) == before, path
