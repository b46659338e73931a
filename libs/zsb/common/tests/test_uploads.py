"""Tests of the upload checks: files are judged by their bytes, never by their name or declared type."""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.annotations import Link

from zsb.common.errors import InvalidArgument
from zsb.common.uploads import (
    DEFAULT_LIMITS,
    CheckedUpload,
    FileKind,
    UploadLimits,
    check_upload,
    sanitize_display_name,
    sniff,
)

# --- makers of real files ---------------------------------------------------------------------------


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: object) -> bytes:
    image = Image.new(mode, size, "red" if mode in {"RGB", "RGBA", "CMYK"} else 128)
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def jpeg(size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    return image_bytes("JPEG", size, **save)


def png(size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: object) -> bytes:
    return image_bytes("PNG", size, mode, **save)


def pdf(pages: int = 1, *, javascript: bool = False, password: str | None = None, algorithm: str = "AES-256") -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    writer.add_metadata({"/Author": "张晓明-私密作者", "/Title": "退役证"})
    if javascript:
        writer.add_open_action(JavaScript("app.alert('pwned')"))
        writer.add_attachment("payload.exe", b"MZ-secret-attachment")
        writer.add_annotation(0, Link(rect=(10, 10, 100, 100), url="https://evil.example/steal"))
    if password is not None:
        writer.encrypt(password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height zero pixels: a few kB on disk, gigapixels when decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header (SOF0) of a JPEG to claim other dimensions."""
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def rejected(data: bytes, name: str = "file", declared: str | None = None, **limits: object) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        check_upload(data, name, declared, UploadLimits(**limits) if limits else DEFAULT_LIMITS)  # type: ignore[arg-type]
    assert info.value.field == "file"
    return info.value


# --- the kind comes from the content ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "kind", "content_type"),
    [(jpeg, FileKind.JPEG, "image/jpeg"), (png, FileKind.PNG, "image/png"), (pdf, FileKind.PDF, "application/pdf")],
)
def test_each_kind_is_accepted(maker: Callable[[], bytes], kind: FileKind, content_type: str) -> None:
    data = maker()
    result = check_upload(data, f"证明{kind.extension}", content_type)
    assert isinstance(result, CheckedUpload)
    assert (result.kind, result.content_type, result.mismatch) == (kind, content_type, "")
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert result.original_size == len(data) and result.size == len(result.data)
    assert sniff(result.data) is kind


def test_right_type_behind_a_wrong_extension_is_accepted_with_a_note() -> None:
    result = check_upload(jpeg(), "退伍证.pdf", "application/pdf")
    assert result.kind is FileKind.JPEG and result.content_type == "image/jpeg"
    assert result.mismatch == "文件扩展名（.pdf）和声明的类型（application/pdf）与文件内容（JPG）不符，已按文件内容处理"
    result = check_upload(pdf(), "scan.png", "image/png")
    assert result.kind is FileKind.PDF and "声明的类型（image/png）" in result.mismatch
    assert check_upload(png(), "a.jpg").mismatch == "文件扩展名（.jpg）与文件内容（PNG）不符，已按文件内容处理"


def test_declared_types_that_are_not_a_claim() -> None:
    assert check_upload(jpeg(), "a.JPEG", "application/octet-stream").mismatch == ""
    assert check_upload(jpeg(), "a.jpg", "image/jpeg; charset=binary").mismatch == ""
    assert check_upload(jpeg(), "无扩展名", None).mismatch == ""


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<html><script>alert(1)</script></html>", "证明.pdf"),  # the right extension, the wrong content
        (b"PK\x03\x04" + b"\x00" * 100, "材料.jpg"),  # a zip (docx) renamed
        (b"GIF89a" + b"\x00" * 100, "a.png"),  # a real image kind that is not accepted
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "a.png"),
        (b"MZ\x90\x00" + b"\x00" * 100, "scan.pdf"),
        (b"\n%PDF-1.7\n" + b"x" * 100 + b"\n%%EOF", "a.pdf"),  # a PDF header not at the start
        (b"\xff\xd8", "a.jpg"),  # too short to be a JPEG
    ],
)
def test_wrong_content_behind_the_right_extension_is_refused(data: bytes, name: str) -> None:
    error = rejected(data, name, "application/pdf")
    assert (error.message, error.reason) == ("文件类型不符，只能上传PDF、JPG、PNG文件", "FILE_TYPE")


def test_allowed_kinds_are_a_limit() -> None:
    error = rejected(pdf(), "a.pdf", kinds=frozenset({FileKind.JPEG, FileKind.PNG}))
    assert error.message == "文件类型不符，只能上传JPG、PNG文件"


def test_size_limits() -> None:
    assert rejected(b"").message == "文件为空，请重新选择文件"
    data = png((256, 256))
    error = rejected(data, max_bytes=len(data) - 1)
    assert error.reason == "FILE_TOO_LARGE" and error.message.startswith("文件过大")
    assert rejected(b"\xff" * (DEFAULT_LIMITS.max_bytes + 1)).message == "文件过大，不能超过10MB"
    assert check_upload(data, limits=UploadLimits(max_bytes=len(data))).kind is FileKind.PNG


# --- polyglot-ish files ----------------------------------------------------------------------------


def test_jpeg_with_a_pdf_inside_is_stored_as_a_clean_jpeg() -> None:
    hidden = pdf(javascript=True)
    result = check_upload(jpeg() + hidden, "photo.jpg")
    assert result.kind is FileKind.JPEG
    assert b"%PDF" not in result.data and b"JavaScript" not in result.data
    Image.open(io.BytesIO(result.data)).load()


def test_png_with_data_appended_after_iend_is_stored_clean() -> None:
    result = check_upload(png() + b"PK\x03\x04-a-zip-archive-" + pdf(), "x.png")
    assert result.kind is FileKind.PNG
    assert b"PK\x03\x04" not in result.data and b"%PDF" not in result.data
    assert result.data.endswith(png_chunk(b"IEND", b""))


def test_pdf_with_data_appended_is_rewritten_without_it() -> None:
    result = check_upload(pdf() + b"<html><script>alert(1)</script></html>\n", "a.pdf")
    assert b"<script>" not in result.data
    assert len(PdfReader(io.BytesIO(result.data)).pages) == 1
    assert check_upload(pdf() + b"\x00" * 500, "a.pdf").page_count == 1  # padding some scanners add


def test_pdf_whose_last_end_marker_is_fake_is_refused() -> None:
    # Appended content that ends with its own %%EOF hides the real cross-reference table.
    error = rejected(pdf() + b"<html><script>alert(1)</script></html>\n%%EOF\n", "a.pdf")
    assert error.reason == "FILE_CORRUPT"


# --- PDF -------------------------------------------------------------------------------------------


def test_pdf_scripts_attachments_links_and_metadata_are_dropped() -> None:
    source = pdf(pages=2, javascript=True)
    assert b"/JavaScript" in source and b"MZ-secret" in source
    result = check_upload(source, "a.pdf")
    assert result.page_count == 2
    for secret in (b"/JavaScript", b"/OpenAction", b"/EmbeddedFiles", b"MZ-secret", b"evil.example", b"/Author"):
        assert secret not in result.data, secret
    reader = PdfReader(io.BytesIO(result.data))
    assert len(reader.pages) == 2
    assert "/Annots" not in reader.pages[0]


def test_page_limit() -> None:
    assert check_upload(pdf(pages=20), "a.pdf").page_count == 20
    error = rejected(pdf(pages=21), "a.pdf")
    assert (error.message, error.reason) == ("PDF页数过多，不能超过20页", "PDF_TOO_MANY_PAGES")
    assert rejected(pdf(pages=3), "a.pdf", max_pdf_pages=2).reason == "PDF_TOO_MANY_PAGES"


@pytest.mark.parametrize(("password", "algorithm"), [("secret", "AES-256"), ("secret", "RC4-128"), ("", "AES-128")])
def test_encrypted_pdfs_are_refused(password: str, algorithm: str) -> None:
    error = rejected(pdf(password=password, algorithm=algorithm), "a.pdf")
    assert (error.message, error.reason) == ("PDF文件已加密，请上传未加密的文件", "FILE_ENCRYPTED")


def test_a_pdf_without_pages() -> None:
    empty = io.BytesIO()
    PdfWriter().write(empty)
    assert rejected(empty.getvalue(), "a.pdf").reason == "FILE_CORRUPT"


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_pdfs_are_refused(cut: float) -> None:
    data = pdf(pages=3)
    error = rejected(data[: int(len(data) * cut)], "a.pdf")
    assert error.reason == "FILE_CORRUPT" and error.message.startswith("文件已损坏")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%%EOF",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        b"%PDF-1.4\n" + b"\x00" * 2000 + b"\n%%EOF",
    ],
)
def test_malformed_pdfs_are_refused(data: bytes) -> None:
    assert rejected(data, "a.pdf").reason == "FILE_CORRUPT"


# --- images ----------------------------------------------------------------------------------------


def test_exif_orientation_is_applied_and_metadata_stripped() -> None:
    image = Image.new("RGB", (40, 20), "blue")
    image.paste("red", (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (37.0, 52.0, 0.0)}  # a GPS IFD: latitude
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=b"private comment")
    source = out.getvalue()
    assert b"SecretCam" in source

    result = check_upload(source, "photo.jpg")
    assert (result.width, result.height) == (20, 40)
    assert b"Exif" not in result.data and b"SecretCam" not in result.data and b"private comment" not in result.data
    stored = Image.open(io.BytesIO(result.data))
    assert stored.size == (20, 40)
    assert not stored.getexif()
    top, bottom = stored.convert("RGB").getpixel((10, 5)), stored.convert("RGB").getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_png_text_and_icc_metadata_are_stripped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "张晓明-私密")
    info.add_itxt("Comment", "身份证号140105200309151313")
    data = png(pnginfo=info, icc_profile=b"\x00" * 128 + b"fake-icc-profile")
    assert "私密".encode() in data
    result = check_upload(data, "a.png")
    assert "私密".encode() not in result.data and b"140105" not in result.data and b"fake-icc" not in result.data
    assert b"tEXt" not in result.data and b"iTXt" not in result.data and b"iCCP" not in result.data


def test_image_modes_are_kept_or_made_storable() -> None:
    cmyk = check_upload(jpeg(mode="CMYK"), "a.jpg")
    assert Image.open(io.BytesIO(cmyk.data)).mode == "RGB"
    gray = check_upload(image_bytes("JPEG", mode="L"), "a.jpg")
    assert Image.open(io.BytesIO(gray.data)).mode == "L"
    deep = check_upload(png(mode="I;16"), "a.png")
    assert Image.open(io.BytesIO(deep.data)).mode.startswith("I")
    alpha = check_upload(png(mode="RGBA"), "a.png")
    assert Image.open(io.BytesIO(alpha.data)).mode == "RGBA"
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((0, 0), 1)
    out = io.BytesIO()
    palette.save(out, format="PNG", transparency=0)
    stored = Image.open(io.BytesIO(check_upload(out.getvalue(), "p.png").data)).convert("RGBA")
    assert stored.getpixel((1, 1))[3] == 0 and stored.getpixel((0, 0))[3] == 255  # transparency survives


def test_an_animated_png_keeps_only_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:])
    assert b"acTL" in out.getvalue()
    result = check_upload(out.getvalue(), "a.png")
    assert b"acTL" not in result.data and b"fcTL" not in result.data
    assert Image.open(io.BytesIO(result.data)).convert("RGB").getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(("maker", "cut"), [(jpeg, 0.5), (jpeg, 0.9), (png, 0.5), (png, 0.9)])
def test_truncated_images_are_refused(maker: Callable[[tuple[int, int]], bytes], cut: float) -> None:
    data = maker((300, 200))
    error = rejected(data[: int(len(data) * cut)])
    assert (error.reason, error.message) == ("FILE_CORRUPT", "文件已损坏，无法读取图片，请重新上传")


def test_a_png_with_a_bad_checksum_is_refused() -> None:
    data = bytearray(png((50, 50)))
    at = data.index(b"IDAT") + 10
    data[at] ^= 0xFF
    assert rejected(bytes(data)).reason == "FILE_CORRUPT"


def test_garbage_after_an_image_header_is_refused() -> None:
    assert rejected(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).reason == "FILE_CORRUPT"
    assert rejected(b"\xff\xd8\xff\xe0" + b"\x00" * 64).reason == "FILE_CORRUPT"


def no_bomb_warnings(data: bytes, **limits: object) -> InvalidArgument:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = rejected(data, **limits)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    return error


def test_a_decompression_bomb_png_is_refused_cleanly() -> None:
    bomb = bomb_png(20_000, 20_000)  # 400 megapixels
    assert len(bomb) < 100_000
    error = no_bomb_warnings(bomb)
    assert error.reason == "IMAGE_TOO_LARGE"
    assert error.message == "图片像素过大（20000×20000），不能超过40百万像素"


def test_a_bomb_that_pillow_would_only_warn_about_is_refused_cleanly() -> None:
    bomb = bomb_png(10_000, 10_000)  # between Pillow's MAX_IMAGE_PIXELS and twice it
    with pytest.warns(Image.DecompressionBombWarning):
        Image.open(io.BytesIO(bomb))  # what a plain Image.open would do: only warn
    assert no_bomb_warnings(bomb).reason == "IMAGE_TOO_LARGE"


def test_huge_dimensions_under_pillows_own_limit_are_refused() -> None:
    assert no_bomb_warnings(bomb_png(7_000, 7_000)).reason == "IMAGE_TOO_LARGE"  # 49 M > our 40 M
    assert no_bomb_warnings(with_jpeg_size(jpeg(), 65_000, 65_000)).reason == "IMAGE_TOO_LARGE"
    assert no_bomb_warnings(png((100, 100)), max_pixels=9_999).reason == "IMAGE_TOO_LARGE"
    assert check_upload(png((100, 100)), limits=UploadLimits(max_pixels=10_000)).width == 100


# --- display names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("退伍证.pdf", "退伍证.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\张三\\Desktop\\证明.jpg", "证明.jpg"),
        ("/var/www/../shell.php.jpg", "shell.php.jpg"),
        ("a\x00b\x1b[31m.pdf", "ab[31m.pdf"),
        ("\u202egpj.exe", "gpj.exe"),  # a right-to-left override that would show as exe.jpg
        ("a<b>:c|d?.pdf", "a_b__c_d_.pdf"),
        ("  my   scan .pdf  ", "my scan .pdf"),
        ("..", "未命名文件"),
        ("", "未命名文件"),
        (None, "未命名文件"),
        ("/", "未命名文件"),
        (".bashrc", "bashrc"),
        ("CON.pdf", "_CON.pdf"),
        ("nul", "_nul"),
        ("报名" * 60 + ".pdf", "报名" * 38 + ".pdf"),
    ],
)
def test_display_names_are_sanitized(raw: str | None, expected: str) -> None:
    assert sanitize_display_name(raw) == expected


def test_the_checked_upload_carries_the_sanitized_name() -> None:
    assert check_upload(png(), "..\\..\\windows\\证明.png").display_name == "证明.png"


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_property_display_names_are_always_safe(raw: str) -> None:
    name = sanitize_display_name(raw)
    assert 1 <= len(name) <= 80
    assert "/" not in name and "\\" not in name
    assert name == name.strip() and not name.startswith(".")
    assert all(c.isprintable() or c == " " for c in name)


# --- fuzzing: hostile bytes give a clean error, never a crash ---------------------------------------

SEEDS = [jpeg((32, 32)), png((32, 32)), pdf(pages=2)]


@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_property_mutated_files_are_accepted_or_refused_cleanly(seed: bytes, edits: list[tuple[int, int]]) -> None:
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    try:
        result = check_upload(bytes(data), "x")
    except InvalidArgument as exc:
        assert exc.message and exc.reason
    else:
        assert sniff(result.data) is result.kind
        assert result.kind is sniff(bytes(data))


@given(st.binary(max_size=2000), st.sampled_from([b"", b"%PDF-1.7\n", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"]))
@settings(max_examples=300)
def test_property_random_bytes_are_refused_cleanly(body: bytes, header: bytes) -> None:
    try:
        check_upload(header + body, "x")
    except InvalidArgument as exc:
        assert exc.reason in {"FILE_TYPE", "FILE_CORRUPT", "FILE_EMPTY", "FILE_ENCRYPTED", "IMAGE_TOO_LARGE"}
