"""The Alibaba Cloud SMS adapter: the signature of Alibaba's documented SendSms example, and the
adapter against a local HTTP server that answers as dysmsapi does (checking that signature)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from services.auth.adapters.sms import AliyunSms, SmsError

# Alibaba Cloud's documented example of the RPC signature v1 for SendSms (key testId / testSecret).
DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
DOC_SIGNATURE = "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_signature_matches_the_documented_example() -> None:
    sms = AliyunSms("testId", "testSecret", "阿里云短信测试专用", "SMS_71390007")
    assert sms.signature(DOC_PARAMS) == DOC_SIGNATURE
    assert sms.signature({**DOC_PARAMS, "OutId": "124"}) != DOC_SIGNATURE


class FakeDysmsapi(BaseHTTPRequestHandler):
    """Answers SendSms like dysmsapi: checks the signature with the shared secret, then the number."""

    received: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        signature = query.pop("Signature", "")
        checker = AliyunSms(query.get("AccessKeyId", ""), "secret-1", "", "")
        if signature != checker.signature(query):
            body = {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"}
        elif query["PhoneNumbers"].startswith("1700"):
            body = {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
        else:
            body = {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5"}
            FakeDysmsapi.received.append(query)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDysmsapi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_code_is_sent_signed_with_the_template_parameter(endpoint: str) -> None:
    FakeDysmsapi.received.clear()
    AliyunSms("key-1", "secret-1", "山西招考", "SMS_1", endpoint=endpoint).send_code("13900000001", "482913", 5)
    (sent,) = FakeDysmsapi.received
    assert sent["PhoneNumbers"] == "13900000001" and sent["SignName"] == "山西招考"
    assert json.loads(sent["TemplateParam"]) == {"code": "482913"}


def test_a_refusal_or_a_wrong_secret_raises(endpoint: str) -> None:
    with pytest.raises(SmsError, match="非法手机号"):
        AliyunSms("key-1", "secret-1", "山西招考", "SMS_1", endpoint=endpoint).send_code("17000000000", "1", 5)
    with pytest.raises(SmsError, match="signature"):
        AliyunSms("key-1", "wrong", "山西招考", "SMS_1", endpoint=endpoint).send_code("13900000001", "1", 5)
