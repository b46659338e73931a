"""Every POST form route fuzzed with hypothesis-generated form bodies (the JSON API has its
schemathesis fuzz in gateway/tests/test_api_fuzz.py): whatever arrives, the answer is never a
5xx or a stack trace.

The fuzz posts as the province too, so it may change the calendar, the reference data or the
reports: it runs on a platform of its own (SQLite everywhere), not on the shared `system`.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from tests.conftest import System, running_system
from tests.security.client import admin_csrf, candidate, csrf, staff

pytestmark = [pytest.mark.system, pytest.mark.timeout(1800)]

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
STACK_TRACE = re.compile(r"Traceback \(most recent call last\)|File \"/|grpc\._channel|sqlalchemy\.exc")
# Signing out would end the fuzzing session itself.
SKIPPED = {"account.logout", "admin.logout"}


def form_fields() -> list[str]:
    """Every field name a form of the gateway carries or a view reads."""
    names: set[str] = set()
    for path in (GATEWAY / "templates").rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'name="([A-Za-z_][\w-]*)"', html))
        names |= set(re.findall(r'\(\s*form,\s*"([A-Za-z_][\w-]*)"', html))  # the field macros
    for path in (GATEWAY / "views").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'form\.get(?:list)?\(\s*"([^"]+)"', source))
        for group in re.findall(r"read_form\(\s*\[([^\]]*)\]", source):
            names |= set(re.findall(r'"([^"]+)"', group))
    names |= {f"resume-{i}-{part}" for i in range(2) for part in ("start", "end", "unit", "role")}
    return sorted(names - {"csrf_token"})


FIELDS = form_fields()
APP = create_app()


def fields_of(endpoint: str) -> list[str]:
    """The fields a view reads itself (the fuzz draws mostly from these), else every field."""
    view = inspect.unwrap(APP.view_functions[endpoint])
    source = inspect.getsource(view)
    found = set(re.findall(r'form\.get(?:list)?\(\s*"([^"]+)"', source))
    for group in re.findall(r"read_form\(\s*\[([^\]]*)\]", source):
        found |= set(re.findall(r'"([^"]+)"', group))
    return sorted(found - {"csrf_token"}) or FIELDS


ROUTES = sorted(
    (rule.rule, rule.endpoint)
    for rule in APP.url_map.iter_rules()
    if "POST" in rule.methods and not rule.rule.startswith("/api/") and rule.endpoint not in SKIPPED
)

TRICKY = ["", " ", "0", "-1", "1", "2", "99999999999999999999", "1e309", "NaN", "１２３", "١٢٣", "0113", "01",
          "approve", "reject", "report", "withdraw", "point", "city", "province", "replace", "amend", "wechat",
          "registration", "confirmation", "2026-04-10T09:00", "2026-13-45T99:99", "2026-04-10", "9999-12-31",
          "\x00", "\u202e", "{{7*7}}", "<script>alert(1)</script>", "' OR '1'='1", "../../etc/passwd",
          "a" * 5000, "考生" * 300, "1,2,3\n4,5,6", "001,30\n002,x"]  # fmt: skip
VALUES = st.one_of(st.sampled_from(TRICKY), st.text(max_size=60), st.from_regex(r"\d{1,16}", fullmatch=True))
SEGMENTS = st.sampled_from(["0", "1", "registration", "confirmation", "0113", "process", "A", "x" * 300, "%00"])


def bodies(endpoint: str) -> st.SearchStrategy[dict]:
    """Form bodies: mostly the view's own fields, sometimes any field of any form."""
    value = st.one_of(VALUES, st.lists(VALUES, max_size=3))
    own = st.dictionaries(st.sampled_from(fields_of(endpoint)), value, max_size=10)
    return st.one_of(own, own, st.dictionaries(st.sampled_from(FIELDS), value, max_size=10))


FILES = st.one_of(st.none(), st.binary(max_size=3000), st.sampled_from([b"%PDF-1.4\n", b"PK\x03\x04", b"\xff\xd8\xff"]))


def concrete(rule: str, segment: str) -> str:
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "7" if m.group(1) == "int" else segment, rule)


@pytest.fixture(scope="module")
def own_platform(
    tmp_path_factory: pytest.TempPathFactory,
    kafka_bootstrap: str,
    pii_keys: dict[str, str],
    token_keys: dict[str, str],
    infra_env: dict[str, str],
    bearer,
) -> Iterator[System]:
    with running_system(
        tmp_path_factory.mktemp("fuzz"),
        kafka_bootstrap=kafka_bootstrap,
        admin_url=infra_env["MARIADB_ADMIN_URL"],
        pii_keys=pii_keys,
        token_keys=token_keys,
        bearer=bearer,
        on_mariadb=(),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def sessions(own_platform: System) -> dict[str, tuple[requests.Session, str]]:
    """(session, its CSRF token) per side: a candidate, the province and a point."""
    system, tag = own_platform, uuid.uuid4().hex[:6]
    number, password = system.import_candidate(name="模糊甲")
    cand = candidate(system, number, password)
    province = staff(system, f"fz{tag}", "province")
    point = staff(system, f"fp{tag}", "point", point="0113")
    base = system.url("")
    return {
        "candidate": (cand, csrf(cand, base)),
        "province": (province, admin_csrf(province, base)),
        "point": (point, admin_csrf(point, base)),
        "anonymous": (requests.Session(), ""),
    }


@pytest.mark.parametrize(("rule", "endpoint"), ROUTES, ids=[e for _, e in ROUTES])
def test_fuzzed_forms_never_get_a_5xx(own_platform: System, sessions, rule: str, endpoint: str) -> None:
    sides = ["province", "point"] if rule.startswith("/admin") else ["candidate", "anonymous"]

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(side=st.sampled_from(sides), segment=SEGMENTS, body=bodies(endpoint), file=FILES)
    def fuzz(side: str, segment: str, body: dict, file: bytes | None) -> None:
        s, token = sessions[side]
        data = {**body, "csrf_token": token} if token else body
        files = {"file": ("upload.bin", file, "application/octet-stream")} if file is not None else None
        path = concrete(rule, segment)
        resp = s.post(own_platform.url(path), data=data, files=files, allow_redirects=False, timeout=90)
        assert resp.status_code < 500, (side, path, data, resp.status_code, resp.text[:300])
        assert not STACK_TRACE.search(resp.text), (side, path)

    fuzz()
