"""Settings of 表格下载 (DOCUMENTS_* environment variables)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DocumentsConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCUMENTS_", case_sensitive=False, extra="ignore")

    ticket_key: str = Field(
        "",
        description="base64 of at least 32 random bytes: the HMAC key of the tickets' QR tokens; "
        "empty: derived from PII_HMAC_KEY with HKDF (a key of its own, never the same bytes)",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="the gateway as phones reach it: QR codes open <this>/ticket/verify/<token>",
    )
    # Fonts are Debian packages (deploy/local/system-packages.sh), registered by path.
    font_regular: str = Field(
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", description="TrueType CJK font (fonts-wqy-microhei)"
    )
    font_regular_index: int = Field(0, ge=0, description="face in the collection")
    font_fallback: str = Field(
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        description="for characters the regular font lacks (fonts-noto-cjk); '' for none",
    )
    font_fallback_index: int = Field(2, ge=0, description="Noto Sans CJK SC in the collection")
    portrait_timeout_seconds: float = Field(5.0, gt=0, description="deadline of the identity service's GetPortrait")
    cache_entries: int = Field(64, ge=0, description="rendered PDFs kept per process, keyed by their content")
