"""Checks of uploaded files by their content: PDF, JPEG and PNG (shared by registration and identity).

The file name and the declared content type are never trusted: the kind comes from the bytes,
and a disagreement is only reported (`CheckedUpload.mismatch`). What is stored is the normalized
output, not the upload: images are decoded in full (so truncated or corrupt files fail here),
turned upright by their EXIF orientation and re-encoded without metadata (EXIF, GPS, XMP, ICC, text
chunks, anything appended after the image); PDFs are rewritten page by page without the document's
scripts, open actions, attachments, metadata or appended bytes.

Decompression bombs: the pixel count is checked from the header before any pixel is decoded. The
format plugins are called directly instead of `Image.open`, so Pillow's process-wide
`MAX_IMAGE_PIXELS` check (a warning up to twice the limit) never runs here: the only outcome is
our own clean `InvalidArgument`, independent of global warning filters and thread-safe.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, NameObject

from zsb.common.errors import InvalidArgument

MB = 1024 * 1024


class FileKind(StrEnum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]

    @property
    def extension(self) -> str:
        return ".jpg" if self is FileKind.JPEG else f".{self.value}"


_CONTENT_TYPES = {FileKind.PDF: "application/pdf", FileKind.JPEG: "image/jpeg", FileKind.PNG: "image/png"}
_KIND_NAMES = {FileKind.PDF: "PDF", FileKind.JPEG: "JPG", FileKind.PNG: "PNG"}
_EXTENSIONS = {".pdf": FileKind.PDF, ".jpg": FileKind.JPEG, ".jpeg": FileKind.JPEG, ".png": FileKind.PNG}
_DECLARED = {
    "application/pdf": FileKind.PDF,
    "image/jpeg": FileKind.JPEG,
    "image/jpg": FileKind.JPEG,
    "image/pjpeg": FileKind.JPEG,
    "image/png": FileKind.PNG,
}
_MAGIC = ((b"%PDF-", FileKind.PDF), (b"\xff\xd8\xff", FileKind.JPEG), (b"\x89PNG\r\n\x1a\n", FileKind.PNG))

# Annotations that act (open links, play media, carry files) are dropped; others lose their actions.
_ACTIVE_ANNOTATIONS = {"/Link", "/FileAttachment", "/Screen", "/Movie", "/Sound", "/RichMedia", "/3D"}
_JPEG_QUALITY = 90
DISPLAY_NAME_MAX_LENGTH = 80
_UNNAMED = "未命名文件"
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


@dataclass(frozen=True)
class UploadLimits:
    """What a use case accepts; the defaults suit scanned certificates and phone photos."""

    max_bytes: int = 10 * MB
    max_pdf_pages: int = 20
    max_pixels: int = 40_000_000  # below Pillow's own 89 M default, and ~160 MB of RGBA at most
    kinds: frozenset[FileKind] = frozenset(FileKind)


DEFAULT_LIMITS = UploadLimits()


@dataclass(frozen=True)
class CheckedUpload:
    """An accepted file: `data` (normalized bytes) is what to store, under `content_type`."""

    kind: FileKind
    content_type: str
    data: bytes
    sha256: str
    display_name: str
    original_size: int
    page_count: int | None = None  # PDF
    width: int | None = None  # images, after EXIF orientation
    height: int | None = None
    mismatch: str = ""  # Chinese note when the name or declared type disagreed with the content

    @property
    def size(self) -> int:
        return len(self.data)


def _invalid(message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(message, reason=reason, field="file")


def _allowed_names(kinds: frozenset[FileKind]) -> str:
    return "、".join(_KIND_NAMES[k] for k in FileKind if k in kinds)


def sniff(data: bytes) -> FileKind | None:
    """The kind by magic bytes at offset 0 (a PDF header later in a file does not make it a PDF)."""
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def sanitize_display_name(name: str | None, max_length: int = DISPLAY_NAME_MAX_LENGTH) -> str:
    """A file name safe to show and to put in a Content-Disposition: no path, no control characters."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    # Control, format (e.g. U+202E, which shows "gpj.exe" as "exe.jpg"), surrogate, private-use and
    # unassigned characters: none can be shown faithfully.
    text = "".join(c for c in text if unicodedata.category(c) not in {"Cc", "Cf", "Cs", "Co", "Cn"})
    text = "".join("_" if c in '<>:"|?*' else c for c in text)
    text = " ".join(text.split()).strip(" .")
    if not text:
        return _UNNAMED
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem or len(ext) > 10:
        stem, ext = text, ""
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    suffix = f".{ext}" if ext else ""
    return stem[: max(1, max_length - len(suffix))] + suffix


def _mismatch(kind: FileKind, name: str, declared_type: str | None) -> str:
    notes = []
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    by_name = _EXTENSIONS.get(ext)
    if ext and by_name is not kind:
        notes.append(f"文件扩展名（{ext}）")
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream" and _DECLARED.get(declared) is not kind:
        notes.append(f"声明的类型（{declared}）")
    if not notes:
        return ""
    return f"{'和'.join(notes)}与文件内容（{_KIND_NAMES[kind]}）不符，已按文件内容处理"


def check_upload(
    data: bytes,
    filename: str | None = None,
    declared_type: str | None = None,
    limits: UploadLimits = DEFAULT_LIMITS,
) -> CheckedUpload:
    """Check an upload by its bytes and return the normalized file, or raise InvalidArgument."""
    if not data:
        raise _invalid("文件为空，请重新选择文件", "FILE_EMPTY")
    if len(data) > limits.max_bytes:
        raise _invalid(f"文件过大，不能超过{limits.max_bytes // MB}MB", "FILE_TOO_LARGE")
    kind = sniff(data)
    if kind is None or kind not in limits.kinds:
        raise _invalid(f"文件类型不符，只能上传{_allowed_names(limits.kinds)}文件", "FILE_TYPE")
    display_name = sanitize_display_name(filename)
    if kind is FileKind.PDF:
        normalized, pages = _check_pdf(data, limits)
        width = height = None
    else:
        normalized, width, height = _check_image(data, kind, limits)
        pages = None
    return CheckedUpload(
        kind=kind,
        content_type=kind.content_type,
        data=normalized,
        sha256=hashlib.sha256(normalized).hexdigest(),
        display_name=display_name,
        original_size=len(data),
        page_count=pages,
        width=width,
        height=height,
        mismatch=_mismatch(kind, display_name, declared_type),
    )


# --- PDF ---------------------------------------------------------------------------------------


def _check_pdf(data: bytes, limits: UploadLimits) -> tuple[bytes, int]:
    # A PDF ends with %%EOF (the spec; pypdf looks in the last 1 KiB too): without it the upload
    # was cut off, even if pypdf's lenient parser could still rebuild something from it.
    if b"%%EOF" not in data[-1024:]:
        raise _invalid("文件已损坏（PDF文件不完整），请重新上传", "FILE_CORRUPT")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        pages = None if encrypted else len(reader.pages)
    except Exception:  # noqa: BLE001 - pypdf raises many exception types on hostile input
        raise _invalid("文件已损坏，无法读取PDF，请重新上传", "FILE_CORRUPT") from None
    if encrypted:
        raise _invalid("PDF文件已加密，请上传未加密的文件", "FILE_ENCRYPTED")
    if not pages:
        raise _invalid("文件已损坏（PDF没有页面），请重新上传", "FILE_CORRUPT")
    if pages > limits.max_pdf_pages:
        raise _invalid(f"PDF页数过多，不能超过{limits.max_pdf_pages}页", "PDF_TOO_MANY_PAGES")
    try:
        return _rewrite_pdf(reader), pages
    except Exception:  # noqa: BLE001 - a page that cannot be copied is a broken file
        raise _invalid("文件已损坏，无法读取PDF，请重新上传", "FILE_CORRUPT") from None


def _rewrite_pdf(reader: PdfReader) -> bytes:
    """Copy the pages into a new document: the catalog (scripts, open actions, attachments, forms'
    actions) and the document information stay behind, and so does anything appended to the file."""
    writer = PdfWriter()
    for source in reader.pages:
        page = writer.add_page(source)
        page.pop(NameObject("/AA"), None)
        annotations = page.get("/Annots")
        if annotations is None:
            continue
        kept = []
        for ref in annotations.get_object():
            annotation = ref.get_object()
            if annotation.get("/Subtype") in _ACTIVE_ANNOTATIONS:
                continue
            annotation.pop(NameObject("/A"), None)
            annotation.pop(NameObject("/AA"), None)
            kept.append(ref)
        if kept:
            page[NameObject("/Annots")] = ArrayObject(kept)
        else:
            page.pop(NameObject("/Annots"), None)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- images ------------------------------------------------------------------------------------

_OPENERS: dict[FileKind, Callable[[io.BytesIO], ImageFile.ImageFile]] = {
    FileKind.JPEG: JpegImagePlugin.JpegImageFile,
    FileKind.PNG: PngImagePlugin.PngImageFile,
}


def _open_image(data: bytes, kind: FileKind, limits: UploadLimits) -> ImageFile.ImageFile:
    try:
        image = _OPENERS[kind](io.BytesIO(data))
    except Exception:  # noqa: BLE001 - Pillow raises many exception types on hostile headers
        raise _invalid("文件已损坏，无法读取图片，请重新上传", "FILE_CORRUPT") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise _invalid("文件已损坏（图片尺寸无效），请重新上传", "FILE_CORRUPT")
    if width * height > limits.max_pixels:
        raise _invalid(
            f"图片像素过大（{width}×{height}），不能超过{limits.max_pixels // 1_000_000}百万像素", "IMAGE_TOO_LARGE"
        )
    return image


def _check_image(data: bytes, kind: FileKind, limits: UploadLimits) -> tuple[bytes, int, int]:
    # verify() checks the structure (PNG chunk CRCs); it leaves the image unusable, so a second
    # open decodes every pixel, which is what catches a truncated JPEG or a corrupt PNG stream.
    try:
        _open_image(data, kind, limits).verify()
        image = _open_image(data, kind, limits)
        image.load()
    except InvalidArgument:
        raise
    except Exception:  # noqa: BLE001 - Pillow raises many exception types on corrupt data
        raise _invalid("文件已损坏，无法读取图片，请重新上传", "FILE_CORRUPT") from None
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a malformed EXIF block: keep the pixels as they are
        upright = image.copy()
    try:
        return _encode(upright, kind), upright.width, upright.height
    except Exception:  # noqa: BLE001 - an exotic pixel format Pillow cannot write back
        raise _invalid("文件已损坏，无法读取图片，请重新上传", "FILE_CORRUPT") from None


def _encode(image: Image.Image, kind: FileKind) -> bytes:
    """Re-encode without any metadata; JPEG keeps L or RGB, PNG keeps transparency and palettes."""
    if "transparency" in image.info:  # a tRNS chunk lives in info, which is about to be dropped
        image = image.convert("RGBA")
    image.info = {}
    out = io.BytesIO()
    if kind is FileKind.JPEG:
        if image.mode not in {"L", "RGB"}:
            image = image.convert("RGB")
        image.save(out, format="JPEG", quality=_JPEG_QUALITY)
    else:
        if image.mode not in {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}:
            image = image.convert("RGBA")
        image.save(out, format="PNG", optimize=False)
    return out.getvalue()
