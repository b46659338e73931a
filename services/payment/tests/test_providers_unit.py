"""The provider layer's pure parts: money, request validation, message and statement parsing."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.payment.providers.alipay import AlipayClient
from services.payment.providers.base import (
    CST,
    AmountMismatch,
    NotificationKind,
    PaymentRequest,
    ProviderError,
    RefundRequest,
    fen_to_yuan,
    parse_fen,
    utc_now,
    yuan_to_fen,
)
from services.payment.providers.unionpay import (
    UnionPayClient,
    format_raw_message,
    parse_raw_message,
    sign,
    signing_string,
    trace_time,
    verify,
)
from services.payment.providers.wechat import WeChatPayClient


@pytest.mark.parametrize(
    ("yuan", "fen"), [("0.01", 1), ("0.1", 10), ("1", 100), ("150.00", 15000), ("99999.99", 9999999)]
)
def test_yuan_and_fen_convert_exactly(yuan: str, fen: int) -> None:
    assert yuan_to_fen(yuan) == fen
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


@pytest.mark.parametrize(
    "text", ["1.234", "-1.00", "+1", "1e3", "1E2", " 1", "NaN", "Infinity", "01.00", "1.", ".5", "１", ""]
)
def test_yuan_rejects_anything_but_plain_two_decimal_amounts(text: str) -> None:
    with pytest.raises(ValueError):
        yuan_to_fen(text)


@pytest.mark.parametrize("value", [-1, 1.5, True, "12a", "-3", "", None])
def test_fen_must_be_a_non_negative_integer(value: object) -> None:
    with pytest.raises(ValueError):
        parse_fen(value)
    with pytest.raises(ValueError):
        fen_to_yuan(value)  # type: ignore[arg-type]


def test_payment_request_refuses_bad_orders() -> None:
    now = utc_now()
    later = now + timedelta(minutes=30)
    PaymentRequest("P2024ABCDEF12", 100, "报名费", "http://127.0.0.1/n", later, now)
    for out_trade_no, amount, expires, created in [
        ("P2024ABCDEF12", 0, later, now),
        ("P2024ABCDEF12", 1.0, later, now),
        ("P-2024-ABCDEF", 100, later, now),
        ("short", 100, later, now),
        ("P2024ABCDEF12", 100, now, later),
        ("P2024ABCDEF12", 100, later.replace(tzinfo=None), now),
    ]:
        with pytest.raises(ValueError):
            PaymentRequest(out_trade_no, amount, "报名费", "http://127.0.0.1/n", expires, created)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RefundRequest("P2024ABCDEF12", "T1", "R2024ABCDEF12", 101, 100, "", "", now)


def test_unionpay_raw_answer_keeps_braces_and_pem_intact() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB+a/b==\n-----END CERTIFICATE-----"
    text = format_raw_message({"respCode": "00", "reqReserved": "{a=1&b=2}", "signPubKeyCert": pem, "empty": ""})
    assert parse_raw_message(text) == {"respCode": "00", "reqReserved": "{a=1&b=2}", "signPubKeyCert": pem, "empty": ""}
    with pytest.raises(ValueError):
        parse_raw_message("respCode")


def test_unionpay_signature_covers_every_field_but_signature() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    params = {"txnAmt": "100", "orderId": "P1234567890", "merId": "777"}
    assert signing_string(params) == "merId=777&orderId=P1234567890&txnAmt=100"
    params["signature"] = sign(params, key)
    assert verify(params, key.public_key())
    assert not verify({**params, "txnAmt": "101"}, key.public_key())
    assert not verify({**params, "signature": "not base64!"}, key.public_key())


def test_unionpay_trace_time_takes_the_year_around_new_year() -> None:
    assert trace_time("1231235959", datetime(2025, 1, 1, 0, 0, 5, tzinfo=CST)).year == 2024
    assert trace_time("0101000001", datetime(2025, 1, 1, 0, 0, 5, tzinfo=CST)).year == 2025


WECHAT_BILL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注\r\n"
    "`2025-03-01 10:00:00,`wx1,`1900000109,`0,`,`4200001,`P0001AAAA,`o1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`150.00,`0.00,"
    "`0,`0,`0.00,`0.00,`,`,`报名费,`,`0.00000,`0.60%,`150.00,`0.00,`\r\n"
    "`2025-03-01 11:00:00,`wx1,`1900000109,`0,`,`4200001,`P0001AAAA,`o1,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,"
    "`5030001,`R0001AAAA,`50.00,`0.00,`ORIGINAL,`SUCCESS,`报名费,`,`0.00000,`0.60%,`0.00,`50.00,`\r\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
    "`2,`150.00,`50.00,`0.00,`0.00000,`{paid},`50.00\r\n"
)


def test_wechat_bill_parses_to_fen_entries() -> None:
    raw = WECHAT_BILL.replace("{paid}", "150.00").encode()
    statement = WeChatPayClient.parse_statement(raw, date(2025, 3, 1))
    assert [(e.kind, e.amount_fen, e.out_refund_no) for e in statement.entries] == [
        (NotificationKind.PAYMENT, 15000, ""),
        (NotificationKind.REFUND, 5000, "R0001AAAA"),
    ]
    assert statement.entries[0].occurred_at == datetime(2025, 3, 1, 10, tzinfo=CST)
    assert (statement.paid_fen, statement.refunded_fen) == (15000, 5000)


def test_wechat_bill_whose_summary_disagrees_is_refused() -> None:
    with pytest.raises(AmountMismatch):
        WeChatPayClient.parse_statement(WECHAT_BILL.replace("{paid}", "150.01").encode(), date(2025, 3, 1))
    with pytest.raises(ProviderError):
        WeChatPayClient.parse_statement(gzip.compress(b"garbage"), date(2025, 3, 1))


def alipay_zip(total: str) -> bytes:
    text = (
        "#支付宝业务明细查询\r\n#-----业务明细列表-----\r\n"
        "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
        "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
        "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r\n"
        "2025030122001\t,P0001AAAA\t,交易,报名费,2025-03-01 09:59:00,2025-03-01 10:00:00,,,,,a***@b,150.00,150.00,"
        "0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,0.00,0.00,\r\n"
        "2025030122001\t,P0001AAAA\t,退款,报名费,2025-03-01 10:59:00,2025-03-01 11:00:00,,,,,a***@b,-50.00,-50.00,"
        "0.00,0.00,0.00,0.00,0.00,,0.00,0.00,R0001AAAA\t,0.00,0.00,\r\n"
        "#-----业务明细列表结束-----\r\n"
        f"#交易合计：1笔，商家实收共{total}元，商家优惠共0.00元\r\n#退款合计：1笔，商家实收共-50.00元，商家优惠共0.00元\r\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("2088_20250301_业务明细.csv", text.encode("gbk"))
        archive.writestr("2088_20250301_业务明细(汇总).csv", "#汇总\r\n".encode("gbk"))
    return buffer.getvalue()


def test_alipay_bill_parses_negative_refunds_to_positive_fen() -> None:
    statement = AlipayClient.parse_statement(alipay_zip("150.00"), date(2025, 3, 1))
    assert [(e.kind, e.amount_fen, e.out_trade_no, e.out_refund_no) for e in statement.entries] == [
        (NotificationKind.PAYMENT, 15000, "P0001AAAA", ""),
        (NotificationKind.REFUND, 5000, "P0001AAAA", "R0001AAAA"),
    ]


def test_alipay_bill_whose_totals_disagree_is_refused() -> None:
    with pytest.raises(AmountMismatch):
        AlipayClient.parse_statement(alipay_zip("149.99"), date(2025, 3, 1))
    with pytest.raises(ProviderError):
        AlipayClient.parse_statement(b"not a zip", date(2025, 3, 1))


def test_unionpay_zm_file_parses_fixed_width_lines() -> None:
    from services.payment.sandbox.unionpay import _zm_line

    payment = _zm_line({0: "S22", 4: "0301100000", 6: "15000", 9: "250301100000123456789", 11: "P0001AAAA", 19: "01"})
    refund = _zm_line(
        {0: "S30", 4: "0301110000", 6: "5000", 9: "250301110000123456789", 11: "R0001AAAA", 19: "04"}
        | {26: "250301100000123456789", 40: "P0001AAAA"}
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("INN25030188ZM_777290058000001", f"{payment}\r\n{refund}\r\n")
        archive.writestr("INN25030188ZME_777290058000001", "")
    statement = UnionPayClient.parse_statement(buffer.getvalue(), date(2025, 3, 1))
    assert [
        (e.kind, e.amount_fen, e.out_trade_no, e.out_refund_no, e.provider_trade_no) for e in statement.entries
    ] == [
        (NotificationKind.PAYMENT, 15000, "P0001AAAA", "", "250301100000123456789"),
        (NotificationKind.REFUND, 5000, "P0001AAAA", "R0001AAAA", "250301100000123456789"),
    ]
    assert statement.entries[1].occurred_at == datetime(2025, 3, 1, 11, tzinfo=CST)


def test_misconfiguration_is_a_clear_error(tmp_path: Path) -> None:
    from services.payment.providers import PaymentProviderSettings, build_client
    from services.payment.providers.base import ProviderConfigError
    from services.payment.sandbox.keys import client_settings, generate

    generate(tmp_path)
    values = {k.removeprefix("PAYMENT_").lower(): v for k, v in client_settings(tmp_path, "http://127.0.0.1:9").items()}
    for provider in ("wechat", "alipay", "unionpay"):
        build_client(provider, PaymentProviderSettings(**values))  # the generated set is complete
    root = str(tmp_path / "client" / "unionpay_root.pem")
    for provider, wrong in [
        ("wechat", {"wechat_merchant_key_file": root}),
        ("wechat", {"wechat_apiv3_key": "too short"}),
        ("wechat", {"wechat_platform_cert_dir": str(tmp_path)}),
        ("alipay", {"alipay_app_id": ""}),
        ("alipay", {"alipay_product": "wap"}),
        ("unionpay", {"unionpay_sign_cert_password": "wrong"}),
        ("unionpay", {"unionpay_root_cert_file": str(tmp_path / "missing.pem")}),
    ]:
        with pytest.raises(ProviderConfigError):
            build_client(provider, PaymentProviderSettings(**{**values, **wrong}))
