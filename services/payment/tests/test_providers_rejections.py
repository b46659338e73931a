"""Every notification our clients must refuse, per provider, with real signatures.

A genuine notification comes from the sandbox process after a real payment; the forgeries are
made from it (tampered, re-signed with an attacker's key, re-addressed) or, where a case needs
a notification genuinely signed by the provider but wrong in content, with the sandbox's TEST
provider keys.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from wechatpayv3.utils import rsa_sign

from services.payment.providers import build_client, build_clients
from services.payment.providers.base import (
    AmountMismatch,
    ForgedSignature,
    MalformedNotification,
    OrderMismatch,
    PaymentRequest,
    Provider,
    ProviderClient,
    StaleNotification,
    UnknownCertificate,
    WrongMerchant,
    check_against_order,
    utc_now,
)
from services.payment.providers.unionpay import sign as acp_sign
from services.payment.sandbox import alipay as alipay_sandbox
from services.payment.sandbox import unionpay as unionpay_sandbox
from services.payment.sandbox import wechat as wechat_sandbox
from services.payment.sandbox.keys import UNIONPAY_SIGN_CN, SandboxKeys
from services.payment.sandbox.testing import NotifyReceiver, Received, SandboxProcess, wait_until

AMOUNT = 16000


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(tmp_path_factory.mktemp("sandbox"), retry_scale=0.002) as process:
        yield process


@pytest.fixture(scope="module")
def keys(sandbox: SandboxProcess) -> SandboxKeys:
    return SandboxKeys.load_or_create(sandbox.state_dir)


@pytest.fixture(scope="module")
def clients(sandbox: SandboxProcess) -> dict[Provider, ProviderClient]:
    return build_clients(sandbox.settings())


@pytest.fixture(scope="module")
def genuine(clients: dict[Provider, ProviderClient]) -> dict[str, Received]:
    """One genuine payment notification per provider, as our endpoint received it."""
    found: dict[str, Received] = {}
    with NotifyReceiver(clients) as receiver:
        for provider in ("wechat", "alipay", "unionpay"):
            out_trade_no, now = "G" + uuid.uuid4().hex[:20], utc_now()
            receiver.orders[(provider, out_trade_no)] = AMOUNT
            request = PaymentRequest(
                out_trade_no, AMOUNT, "报名费", receiver.url(provider), now + timedelta(minutes=30), now
            )
            action = clients[Provider(provider)].create_payment(request)
            if action.kind == "form":
                page = requests.post(action.url, data=dict(action.form_fields), timeout=10)
            else:
                page = requests.get(action.url, timeout=10)
            pay = re.search(r'<form method="post" action="([^"]+)"', page.text)
            assert pay, page.text
            requests.post(pay.group(1), timeout=10)
            found[provider] = wait_until(
                lambda p=provider, o=out_trade_no: next(
                    (r for r in receiver.for_order(p, o) if r.rejection is None), None
                )
            )
    return found


def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def later(seconds: float) -> Any:
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)


# ---------------------------------------------------------------- WeChat Pay


def test_wechat_genuine_notification_verifies(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    n = clients[Provider.WECHAT].parse_and_verify_notification(genuine["wechat"].headers, genuine["wechat"].body)
    check_against_order(n, out_trade_no=n.out_trade_no, amount_fen=AMOUNT)
    assert n.notification_id and n.paid_at is not None


def test_wechat_tampered_body_is_forged(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    body = genuine["wechat"].body.replace(b'"summary"', b'"summary_"', 1)
    with pytest.raises(ForgedSignature):
        clients[Provider.WECHAT].parse_and_verify_notification(genuine["wechat"].headers, body)


def test_wechat_signature_by_another_key_is_forged(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    headers = dict(genuine["wechat"].headers)
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{genuine['wechat'].body.decode()}\n"
    headers["Wechatpay-Signature"] = rsa_sign(attacker_key(), message)
    with pytest.raises(ForgedSignature):
        clients[Provider.WECHAT].parse_and_verify_notification(headers, genuine["wechat"].body)


def test_wechat_wrong_serial_is_refused(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    headers = {**genuine["wechat"].headers, "Wechatpay-Serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"}
    with pytest.raises(UnknownCertificate):
        clients[Provider.WECHAT].parse_and_verify_notification(headers, genuine["wechat"].body)


def test_wechat_replayed_old_notification_is_stale(sandbox: SandboxProcess, genuine: dict) -> None:
    six_minutes_later = build_client("wechat", sandbox.settings(), clock=later(360))
    with pytest.raises(StaleNotification):
        six_minutes_later.parse_and_verify_notification(genuine["wechat"].headers, genuine["wechat"].body)


def test_wechat_missing_headers_are_malformed(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    headers = {k: v for k, v in genuine["wechat"].headers.items() if k != "Wechatpay-Nonce"}
    with pytest.raises(MalformedNotification):
        clients[Provider.WECHAT].parse_and_verify_notification(headers, genuine["wechat"].body)


@pytest.mark.parametrize("field", ["mchid", "appid"])
def test_wechat_other_merchant_is_refused(
    field: str, clients: dict[Provider, ProviderClient], genuine: dict, keys: SandboxKeys
) -> None:
    resource = dict(genuine["wechat"].notification.raw["resource"])
    resource[field] = "1900000999" if field == "mchid" else "wxd0another0000001"
    text = wechat_sandbox.notification_text(keys, "TRANSACTION.SUCCESS", "transaction", resource)
    headers = wechat_sandbox.signature_headers(keys, text)  # genuinely signed by the platform key
    with pytest.raises(WrongMerchant):
        clients[Provider.WECHAT].parse_and_verify_notification(headers, text.encode())


def test_wechat_resource_under_another_apiv3_key_is_refused(
    clients: dict[Provider, ProviderClient], genuine: dict, keys: SandboxKeys
) -> None:
    other = SandboxKeys(**{**keys.__dict__, "ids": {**keys.ids, "wechat_apiv3_key": "x" * 32}})
    text = wechat_sandbox.notification_text(
        other, "TRANSACTION.SUCCESS", "transaction", genuine["wechat"].notification.raw["resource"]
    )
    with pytest.raises(WrongMerchant):
        clients[Provider.WECHAT].parse_and_verify_notification(
            wechat_sandbox.signature_headers(keys, text), text.encode()
        )


# ---------------------------------------------------------------- Alipay


def alipay_params(received: Received) -> dict[str, str]:
    return dict(parse_qsl(received.body.decode()))


def test_alipay_genuine_notification_verifies(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    n = clients[Provider.ALIPAY].parse_and_verify_notification(genuine["alipay"].headers, genuine["alipay"].body)
    check_against_order(n, out_trade_no=n.out_trade_no, amount_fen=AMOUNT)
    assert n.raw["total_amount"] == "160.00"


def test_alipay_tampered_amount_is_forged(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    params = {**alipay_params(genuine["alipay"]), "total_amount": "0.01"}
    with pytest.raises(ForgedSignature):
        clients[Provider.ALIPAY].parse_and_verify_notification({}, urlencode(params).encode())


def test_alipay_signature_by_another_key_is_forged(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    params = alipay_params(genuine["alipay"])
    unsigned = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    content = "&".join(f"{k}={unsigned[k]}" for k in sorted(unsigned)).encode()
    params["sign"] = base64.b64encode(attacker_key().sign(content, padding.PKCS1v15(), hashes.SHA256())).decode()
    with pytest.raises(ForgedSignature):
        clients[Provider.ALIPAY].parse_and_verify_notification({}, urlencode(params).encode())


def test_alipay_rsa1_is_refused(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    params = {**alipay_params(genuine["alipay"]), "sign_type": "RSA"}
    with pytest.raises(MalformedNotification):
        clients[Provider.ALIPAY].parse_and_verify_notification({}, urlencode(params).encode())


@pytest.mark.parametrize(("field", "value"), [("app_id", "2021000199999999"), ("seller_id", "2088000000009999")])
def test_alipay_other_app_or_seller_is_refused(
    field: str, value: str, clients: dict[Provider, ProviderClient], genuine: dict, keys: SandboxKeys
) -> None:
    params = {k: v for k, v in alipay_params(genuine["alipay"]).items() if k not in ("sign", "sign_type")}
    params[field] = value
    body = alipay_sandbox.signed_notification(keys, params)  # genuinely signed by Alipay's key
    with pytest.raises(WrongMerchant):
        clients[Provider.ALIPAY].parse_and_verify_notification({}, body)


def test_alipay_replayed_old_notification_is_stale(sandbox: SandboxProcess, genuine: dict) -> None:
    a_day_and_more_later = build_client("alipay", sandbox.settings(), clock=later(26 * 3600))
    with pytest.raises(StaleNotification):
        a_day_and_more_later.parse_and_verify_notification({}, genuine["alipay"].body)


def test_alipay_amount_with_three_decimals_is_malformed(
    clients: dict[Provider, ProviderClient], genuine: dict, keys: SandboxKeys
) -> None:
    params = {k: v for k, v in alipay_params(genuine["alipay"]).items() if k not in ("sign", "sign_type")}
    params["total_amount"] = "160.001"
    with pytest.raises(MalformedNotification):
        clients[Provider.ALIPAY].parse_and_verify_notification({}, alipay_sandbox.signed_notification(keys, params))


# ---------------------------------------------------------------- UnionPay


def unionpay_params(received: Received) -> dict[str, str]:
    return dict(parse_qsl(received.body.decode()))


def test_unionpay_genuine_notification_verifies(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    n = clients[Provider.UNIONPAY].parse_and_verify_notification({}, genuine["unionpay"].body)
    check_against_order(n, out_trade_no=n.out_trade_no, amount_fen=AMOUNT)
    assert n.raw["txnAmt"] == str(AMOUNT)


def test_unionpay_tampered_amount_is_forged(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    params = {**unionpay_params(genuine["unionpay"]), "txnAmt": "1"}
    with pytest.raises(ForgedSignature):
        clients[Provider.UNIONPAY].parse_and_verify_notification({}, urlencode(params).encode())


def test_unionpay_self_made_certificate_is_refused(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    """An attacker's own certificate with UnionPay's name, and a valid signature by its key."""
    key = attacker_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, UNIONPAY_SIGN_CN)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    params = {k: v for k, v in unionpay_params(genuine["unionpay"]).items() if k != "signature"}
    params["signPubKeyCert"] = cert.public_bytes(Encoding.PEM).decode()
    params["signature"] = acp_sign(params, key)
    with pytest.raises(UnknownCertificate):
        clients[Provider.UNIONPAY].parse_and_verify_notification({}, urlencode(params).encode())


def test_unionpay_certificate_of_another_owner_is_refused(sandbox: SandboxProcess, genuine: dict) -> None:
    expecting_another_owner = build_client("unionpay", sandbox.settings(unionpay_cert_owner="某某银行股份有限公司"))
    with pytest.raises(UnknownCertificate):
        expecting_another_owner.parse_and_verify_notification({}, genuine["unionpay"].body)


def test_unionpay_other_merchant_is_refused(
    clients: dict[Provider, ProviderClient], genuine: dict, keys: SandboxKeys
) -> None:
    fields = {k: v for k, v in unionpay_params(genuine["unionpay"]).items() if k not in ("signature", "signPubKeyCert")}
    fields["merId"] = "777290058999999"
    body = urlencode(unionpay_sandbox.signed_message(keys, fields)).encode()  # genuinely signed by UnionPay
    with pytest.raises(WrongMerchant):
        clients[Provider.UNIONPAY].parse_and_verify_notification({}, body)


def test_unionpay_other_signature_method_is_refused(clients: dict[Provider, ProviderClient], genuine: dict) -> None:
    params = {**unionpay_params(genuine["unionpay"]), "signMethod": "11"}
    with pytest.raises(MalformedNotification):
        clients[Provider.UNIONPAY].parse_and_verify_notification({}, urlencode(params).encode())


# ---------------------------------------------------------------- the caller's order checks


@pytest.mark.parametrize("provider", ["wechat", "alipay", "unionpay"])
def test_wrong_amount_or_order_is_refused_by_the_order_check(
    provider: str, clients: dict[Provider, ProviderClient], genuine: dict
) -> None:
    received = genuine[provider]
    n = clients[Provider(provider)].parse_and_verify_notification(received.headers, received.body)
    with pytest.raises(AmountMismatch):
        check_against_order(n, out_trade_no=n.out_trade_no, amount_fen=AMOUNT - 1)
    with pytest.raises(OrderMismatch):
        check_against_order(n, out_trade_no="P" + uuid.uuid4().hex[:20], amount_fen=AMOUNT)


def test_keys_stay_out_of_the_repository(sandbox: SandboxProcess) -> None:
    repo = Path(__file__).resolve().parents[3]
    assert not sandbox.state_dir.resolve().is_relative_to(repo / "services")
    assert oct((sandbox.state_dir / "client" / "wechat_merchant_key.pem").stat().st_mode)[-3:] == "600"
