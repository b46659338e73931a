"""SMS providers: a local sink (the embedded default, read by tests) and a real provider.

`SMS_PROVIDER=sink` appends each message as a JSON line to `SMS_SINK_PATH` (default
var/sms/sink.jsonl); `SMS_PROVIDER=aliyun` sends through Alibaba Cloud SMS (dysmsapi SendSms)
with the `SMS_ALIYUN_*` credentials and template.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from zsb.common.settings import VAR_DIR, Settings


class SmsError(Exception):
    """The provider did not accept the message."""


class SmsSender(Protocol):
    def send_code(self, phone: str, code: str, minutes: int) -> None: ...


class SinkSms:
    """Writes messages to a local JSON-lines file instead of sending them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send_code(self, phone: str, code: str, minutes: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"phone": phone, "code": code, "text": f"您的验证码为{code}，{minutes}分钟内有效。", "at": _now_iso()},
            ensure_ascii=False,
        )
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class AliyunSms:
    """Alibaba Cloud SMS through its RPC API, signed as its signature v1 specifies (HMAC-SHA1)."""

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        endpoint: str = "https://dysmsapi.aliyuncs.com/",
    ) -> None:
        self.key_id, self.secret = access_key_id, access_key_secret
        self.sign_name, self.template_code, self.endpoint = sign_name, template_code, endpoint

    def send_code(self, phone: str, code: str, minutes: int) -> None:
        params = {
            "AccessKeyId": self.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone,
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps({"code": code}),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = self.signature(params)
        url = self.endpoint + "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the configured provider endpoint
            body = json.loads(resp.read())
        if body.get("Code") != "OK":
            raise SmsError(body.get("Message", "SMS provider error"))

    def signature(self, params: dict[str, str]) -> str:
        def enc(s: str) -> str:
            return urllib.parse.quote(s, safe="~")

        canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
        to_sign = "GET&%2F&" + enc(canonical)
        digest = hmac.new((self.secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def make_sms_sender(settings: Settings) -> SmsSender:
    if settings.sms_provider == "sink":
        return SinkSms(Path(settings.sms_sink_path or VAR_DIR / "sms" / "sink.jsonl"))
    if settings.sms_provider == "aliyun":
        return AliyunSms(
            settings.sms_aliyun_access_key_id,
            settings.sms_aliyun_access_key_secret,
            settings.sms_aliyun_sign_name,
            settings.sms_aliyun_template_code,
        )
    raise ValueError(f"unknown SMS_PROVIDER {settings.sms_provider!r}")
