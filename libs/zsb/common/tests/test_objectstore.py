import urllib.request
import uuid
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlparse

import pytest

from zsb.common.objectstore import ObjectNotFound, ObjectStore, check_key, open_object_store


@pytest.fixture(params=["local", "minio"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return open_object_store(f"file://{tmp_path}", "zsb-test")
    return open_object_store(request.getfixturevalue("minio_url"), f"zsb-test-{uuid.uuid4().hex[:8]}")


def test_put_get_list_delete(store: ObjectStore) -> None:
    store.put("c/21145101130001/photo.jpg", b"\xff\xd8jpeg", "image/jpeg")
    store.put("c/21145101130002/photo.jpg", b"other", "image/jpeg")
    assert store.get("c/21145101130001/photo.jpg") == b"\xff\xd8jpeg"
    assert store.exists("c/21145101130001/photo.jpg")
    assert store.list("c/21145101130001/") == ["c/21145101130001/photo.jpg"]
    store.delete("c/21145101130001/photo.jpg")
    assert not store.exists("c/21145101130001/photo.jpg")
    with pytest.raises(ObjectNotFound):
        store.get("c/21145101130001/photo.jpg")


def test_overwrite_replaces_content(store: ObjectStore) -> None:
    store.put("doc.pdf", b"v1")
    store.put("doc.pdf", b"v2")
    assert store.get("doc.pdf") == b"v2"


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b", "a//b", "", "a\\b", "x" * 600, ".hidden"])
def test_unsafe_keys_are_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, b"x")
    with pytest.raises(ValueError):
        check_key(key)


def test_local_files_are_owner_only(tmp_path: Path) -> None:
    store = open_object_store(f"file://{tmp_path}", "zsb-test")
    store.put("a/b.bin", b"secret")
    assert (tmp_path / "zsb-test" / "a" / "b.bin").stat().st_mode & 0o077 == 0


def test_minio_bucket_is_private(minio_url: str) -> None:
    store = open_object_store(minio_url, "zsb-test-private")
    store.put("secret.txt", b"id card")
    host = urlparse(minio_url).netloc.split("@")[-1]
    with pytest.raises(HTTPError) as err:
        urllib.request.urlopen(f"http://{host}/zsb-test-private/secret.txt", timeout=5)
    assert err.value.code == 403


def test_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="scheme"):
        open_object_store("s3://bucket", "x")


@pytest.mark.parametrize("bucket", ["UPPER", "ab", "a_b", "-start", "x" * 64])
def test_invalid_bucket_names_are_rejected(tmp_path: Path, bucket: str) -> None:
    with pytest.raises(ValueError, match="bucket"):
        open_object_store(f"file://{tmp_path}", bucket)
