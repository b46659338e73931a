"""TEST keys and certificates of the sandbox, generated with `cryptography` at first start.

state_dir/provider/  what only the stand-in providers hold (their private keys, our registered certs)
state_dir/client/    what our payment service holds (our private keys, the providers' public parts)
state_dir/ids.json   merchant ids and the shared secrets (APIv3 key, .pfx password)
state_dir/client.env PAYMENT_* settings pointing our clients at the sandbox and these files

None of this is ever in the repository; real keys come from the production environment.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

# The owner part of UnionPay's signing-certificate CN, as in production ("...@...@OWNER@...").
UNIONPAY_SIGN_CN = "041@Z12@中国银联股份有限公司@00000001"

IDS = {
    "wechat_mchid": "1900000109",
    "wechat_appid": "wxd0sandbox0000001",
    "alipay_app_id": "2021000100000001",
    "alipay_seller_id": "2088000000000001",
    "unionpay_mer_id": "777290058000001",
}


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str, org: str = "ZSB Payment Sandbox (TEST ONLY)") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _cert(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    days: int = 3650,
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def generate(state_dir: Path) -> None:
    """Create every key, certificate and id of the sandbox in state_dir (overwrites)."""
    provider, client = state_dir / "provider", state_dir / "client"
    root_key = _key()
    root_name = _name("ZSB Sandbox Root CA")
    root = _cert(root_name, root_key, root_name, root_key, ca=True)

    # WeChat Pay: our API certificate (merchant) and the platform certificate.
    mch_key, platform_key = _key(), _key()
    mch_cert = _cert(_name(IDS["wechat_mchid"], "Sandbox merchant"), mch_key, root_name, root_key, ca=False)
    platform_cert = _cert(_name("Tenpay.com sandbox platform"), platform_key, root_name, root_key, ca=False)
    _write(client / "wechat_merchant_key.pem", _pem_key(mch_key), private=True)
    _write(client / "wechat_platform_certs" / f"{platform_cert.serial_number:X}.pem", _pem_cert(platform_cert))
    _write(provider / "wechat_merchant_cert.pem", _pem_cert(mch_cert))
    _write(provider / "wechat_platform_key.pem", _pem_key(platform_key), private=True)
    _write(provider / "wechat_platform_cert.pem", _pem_cert(platform_cert))

    # Alipay: our app key pair and Alipay's key pair (public-key mode).
    app_key, alipay_key = _key(), _key()
    _write(client / "alipay_app_private_key.pem", _pem_key(app_key), private=True)
    _write(client / "alipay_public_key.pem", _pem_public(alipay_key))
    _write(provider / "alipay_app_public_key.pem", _pem_public(app_key))
    _write(provider / "alipay_private_key.pem", _pem_key(alipay_key), private=True)

    # UnionPay: root -> middle -> signing certificate; our .pfx (as UnionPay issues to merchants).
    middle_key, sign_key, mer_key = _key(), _key(), _key()
    middle_name = _name("ZSB Sandbox UnionPay Middle CA")
    middle = _cert(middle_name, middle_key, root_name, root_key, ca=True)
    sign_cert = _cert(_name(UNIONPAY_SIGN_CN, "China UnionPay (sandbox)"), sign_key, middle_name, middle_key, ca=False)
    mer_cert = _cert(_name(IDS["unionpay_mer_id"], "Sandbox merchant"), mer_key, root_name, root_key, ca=False)
    pfx_password = secrets.token_hex(8)
    pfx = pkcs12.serialize_key_and_certificates(
        b"acp-sign",
        mer_key,
        mer_cert,
        None,
        serialization.BestAvailableEncryption(pfx_password.encode()),
    )
    _write(client / "unionpay_merchant_sign.pfx", pfx, private=True)
    _write(client / "unionpay_root.pem", _pem_cert(root))
    _write(client / "unionpay_middle.pem", _pem_cert(middle))
    _write(provider / "unionpay_sign_key.pem", _pem_key(sign_key), private=True)
    _write(provider / "unionpay_sign_cert.pem", _pem_cert(sign_cert))
    _write(provider / "unionpay_merchant_cert.pem", _pem_cert(mer_cert))

    alphabet = string.ascii_letters + string.digits
    ids = {
        **IDS,
        "wechat_merchant_serial": f"{mch_cert.serial_number:X}",
        "wechat_platform_serial": f"{platform_cert.serial_number:X}",
        "wechat_apiv3_key": "".join(secrets.choice(alphabet) for _ in range(32)),
        "unionpay_pfx_password": pfx_password,
    }
    _write(state_dir / "ids.json", json.dumps(ids, indent=2).encode(), private=True)


@dataclass(frozen=True)
class SandboxKeys:
    """What the running sandbox needs, loaded from state_dir."""

    state_dir: Path
    ids: dict[str, str]
    wechat_platform_key: rsa.RSAPrivateKey
    wechat_platform_cert: x509.Certificate
    wechat_merchant_cert: x509.Certificate
    alipay_key: rsa.RSAPrivateKey
    alipay_app_public_pem: str
    unionpay_sign_key: rsa.RSAPrivateKey
    unionpay_sign_cert_pem: str
    unionpay_merchant_cert: x509.Certificate

    @classmethod
    def load_or_create(cls, state_dir: Path) -> SandboxKeys:
        if not (state_dir / "ids.json").exists():
            generate(state_dir)
        provider = state_dir / "provider"

        def key(name: str) -> rsa.RSAPrivateKey:
            loaded = serialization.load_pem_private_key((provider / name).read_bytes(), password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            return loaded

        def cert(name: str) -> x509.Certificate:
            return x509.load_pem_x509_certificate((provider / name).read_bytes())

        return cls(
            state_dir=state_dir,
            ids=json.loads((state_dir / "ids.json").read_text()),
            wechat_platform_key=key("wechat_platform_key.pem"),
            wechat_platform_cert=cert("wechat_platform_cert.pem"),
            wechat_merchant_cert=cert("wechat_merchant_cert.pem"),
            alipay_key=key("alipay_private_key.pem"),
            alipay_app_public_pem=(provider / "alipay_app_public_key.pem").read_text(),
            unionpay_sign_key=key("unionpay_sign_key.pem"),
            unionpay_sign_cert_pem=(provider / "unionpay_sign_cert.pem").read_text(),
            unionpay_merchant_cert=cert("unionpay_merchant_cert.pem"),
        )


def client_settings(state_dir: Path, base_url: str) -> dict[str, str]:
    """The PAYMENT_* settings that point our provider clients at a sandbox on base_url."""
    ids = json.loads((state_dir / "ids.json").read_text())
    client = state_dir / "client"
    base_url = base_url.rstrip("/")
    return {
        "PAYMENT_WECHAT_BASE_URL": f"{base_url}/wechat",
        "PAYMENT_WECHAT_MCHID": ids["wechat_mchid"],
        "PAYMENT_WECHAT_APPID": ids["wechat_appid"],
        "PAYMENT_WECHAT_MERCHANT_KEY_FILE": str(client / "wechat_merchant_key.pem"),
        "PAYMENT_WECHAT_MERCHANT_SERIAL": ids["wechat_merchant_serial"],
        "PAYMENT_WECHAT_APIV3_KEY": ids["wechat_apiv3_key"],
        "PAYMENT_WECHAT_PLATFORM_CERT_DIR": str(client / "wechat_platform_certs"),
        "PAYMENT_ALIPAY_GATEWAY_URL": f"{base_url}/alipay/gateway.do",
        "PAYMENT_ALIPAY_APP_ID": ids["alipay_app_id"],
        "PAYMENT_ALIPAY_SELLER_ID": ids["alipay_seller_id"],
        "PAYMENT_ALIPAY_APP_PRIVATE_KEY_FILE": str(client / "alipay_app_private_key.pem"),
        "PAYMENT_ALIPAY_PUBLIC_KEY_FILE": str(client / "alipay_public_key.pem"),
        "PAYMENT_UNIONPAY_BASE_URL": f"{base_url}/unionpay",
        "PAYMENT_UNIONPAY_FILE_URL": f"{base_url}/unionpay/filedownload/",
        "PAYMENT_UNIONPAY_MER_ID": ids["unionpay_mer_id"],
        "PAYMENT_UNIONPAY_SIGN_CERT_FILE": str(client / "unionpay_merchant_sign.pfx"),
        "PAYMENT_UNIONPAY_SIGN_CERT_PASSWORD": ids["unionpay_pfx_password"],
        "PAYMENT_UNIONPAY_ROOT_CERT_FILE": str(client / "unionpay_root.pem"),
        "PAYMENT_UNIONPAY_MIDDLE_CERT_FILE": str(client / "unionpay_middle.pem"),
    }


def write_client_env(state_dir: Path, base_url: str) -> Path:
    path = state_dir / "client.env"
    lines = [f"{k}={v}" for k, v in client_settings(state_dir, base_url).items()]
    _write(path, ("# written by python -m services.payment.sandbox (TEST keys)\n" + "\n".join(lines) + "\n").encode())
    os.chmod(path, 0o600)
    return path
