import pytest
from cryptography.exceptions import InvalidTag

from zsb.common.pii import PiiProtector, generate_key, mask_id_number, mask_name, mask_phone


@pytest.fixture
def pii() -> PiiProtector:
    return PiiProtector(generate_key(), generate_key())


def test_round_trip_and_ciphertext_hides_value(pii: PiiProtector) -> None:
    token = pii.encrypt("140105199001011238", "id_number")
    assert "140105199001011238" not in token
    assert pii.decrypt(token, "id_number") == "140105199001011238"


def test_same_value_encrypts_differently(pii: PiiProtector) -> None:
    assert pii.encrypt("13812345678") != pii.encrypt("13812345678")


def test_context_is_bound(pii: PiiProtector) -> None:
    token = pii.encrypt("13812345678", "phone")
    with pytest.raises(InvalidTag):
        pii.decrypt(token, "id_number")


def test_tampered_ciphertext_is_rejected(pii: PiiProtector) -> None:
    token = pii.encrypt("13812345678", "phone")
    body = bytearray(token.encode())
    body[-3] = ord("A") if body[-3] != ord("A") else ord("B")
    with pytest.raises((InvalidTag, ValueError)):
        pii.decrypt(body.decode(), "phone")


def test_blind_index_normalises_and_depends_on_key(pii: PiiProtector) -> None:
    assert pii.blind_index(" 14010519900101123x ", "id") == pii.blind_index("14010519900101123X", "id")
    other = PiiProtector(generate_key(), generate_key())
    assert other.blind_index("14010519900101123X", "id") != pii.blind_index("14010519900101123X", "id")


def test_bad_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PiiProtector("c2hvcnQ=", generate_key())
    with pytest.raises(ValueError, match="base64"):
        PiiProtector("not base64!!", generate_key())


def test_masks() -> None:
    assert mask_id_number("140105199001011238") == "1401**********1238"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("李华") == "李*"
