"""Candidates acting through the gateways while a fault test breaks things, and the checks after.

Four kinds of action run side by side, one worker thread each:
- account: a registration point issues an account (auth's import); the candidate logs in through
  one of the two gateways and changes the initial password;
- pay: a candidate starts the fee payment on the gateway's 网上支付 page, opens the provider's
  cashier (the sandbox) and pays; the provider notifies the gateway, or payment's jobs ask;
- prefs: a candidate submits the 志愿 form (确认提交); a submission whose answer never came is sent
  again with the same submission id, as the browser's resubmission would;
- photo: a candidate uploads the 身份证国徽面 photo (kept in MinIO).

The facts that need a face engine, a reviewer or the registration wizard (信息确认, identity
verified, qualification approved) come as events the test publishes on the platform's topics, as
tests/test_payment_system.py does: the consumers take them the way they take the real ones.

An action is confirmed only when the platform said so (an import's reply, a 200, a redirect to the
"done" page, the provider's 支付成功). Everything else is either a refusal, which must be clean
(4xx or 503 with a Chinese message, never a 500 or a trace), or lost on the wire (the gateway was
killed mid-request), which confirms nothing.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import random
import re
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import requests
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from PIL import Image
from sqlalchemy import text

from services.preferences.tests.helpers import EIGHT
from tests.conftest import wait_for
from tests.reliability.conftest import Faults
from tests.security.client import NEW_PASSWORD, api_login, csrf
from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
from zsb.common.clock import utcnow
from zsb.common.events import build_headers
from zsb.common.objectstore import open_object_store
from zsb.common.testing import captcha_answer
from zsb.events.v1 import (
    auth_events_pb2,
    identity_events_pb2,
    payment_events_pb2,
    preferences_events_pb2,
    registration_events_pb2,
)
from zsb.identity.v1 import identity_pb2, identity_pb2_grpc
from zsb.payment.v1 import payment_pb2, payment_pb2_grpc
from zsb.preferences.v1 import preferences_pb2, preferences_pb2_grpc

KINDS = ("account", "pay", "prefs", "photo")
# 考生号 of point 0113, unique within the run (the private Kafka and MariaDB start empty).
NUMBERS = (f"2114510113{i:04d}" for i in itertools.count(1000))
_CHINESE = re.compile(r"[\u4e00-\u9fff]{2,}")
_CASHIER_FORM = re.compile(r'<form method="post" action="([^"]+)"')

# Which consumer groups handle which events (docs/events.md): (consuming service, group).
CONSUMERS: dict[str, list[tuple[str, str]]] = {
    "zsb.events.v1.CandidateAccountCreated": [("registration", "registration")],
    "zsb.events.v1.RegistrationConfirmed": [
        ("identity", "identity"),
        ("payment", "payment"),
        ("preferences", "preferences"),
        ("results", "results"),
    ],
    "zsb.events.v1.QualificationApproved": [("preferences", "preferences"), ("results", "results")],
    "zsb.events.v1.IdentityVerified": [
        ("registration", "registration"),
        ("payment", "payment"),
        ("preferences", "preferences"),
    ],
    "zsb.events.v1.PaymentSucceeded": [
        ("registration", "registration"),
        ("registration", "registration-documents"),
        ("preferences", "preferences"),
    ],
    "zsb.events.v1.PreferencesSubmitted": [("results", "results")],
}
PRODUCERS = ("auth", "registration", "identity", "payment", "preferences", "results")


class Refused(Exception):
    """The platform answered, but not with the confirmation the step needs."""


@dataclass
class Refusal:
    at: float  # monotonic
    kind: str
    url: str
    status: int
    content_type: str
    body: str


@dataclass
class Candidate:
    number: str
    session: requests.Session
    gateway: int
    csrf: str = ""


def _timestamp() -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(utcnow())
    return ts


def jpeg(seed: int) -> bytes:
    """A plain 480×300 photo (no face needed: the 国徽面 is not checked by the face engine)."""
    rnd = random.Random(seed)
    img = Image.new("RGB", (480, 300), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    for _ in range(40):
        x, y = rnd.randrange(470), rnd.randrange(290)
        img.paste((rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)), (x, y, x + 10, y + 10))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class Stream:
    faults: Faults
    confirmed: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, kind)
    accounts: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    paid: dict[str, str] = field(default_factory=dict)  # candidate -> order paid at the provider
    submitted: dict[str, tuple[str, int, int]] = field(
        default_factory=dict
    )  # submission id -> (candidate, version, items)
    sent: dict[str, str] = field(default_factory=dict)  # every submission id sent -> candidate
    uploads: Counter[str] = field(default_factory=Counter)  # candidate -> confirmed uploads
    refusals: list[Refusal] = field(default_factory=list)
    lost: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # a worker's own failure: a bug of the test or an assert
    to_pay: list[Candidate] = field(default_factory=list)
    fillers: list[Candidate] = field(default_factory=list)
    photographers: list[Candidate] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    pay_pause: float = 2.0  # seconds between two candidates' payments, so the prepared ones last
    pay_reserve: int = 2  # candidates kept to prove that payments work again at the end
    closing: threading.Event = field(default_factory=threading.Event)  # set: the reserve may pay
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    # ------------------------------------------------------------------ set-up

    @property
    def system(self):
        return self.faults.system

    def import_accounts(self, count: int) -> list[tuple[str, str]]:
        """New candidate accounts of point 0113 through auth's import; [(考生号, initial password)]."""
        rows = [
            auth_pb2.CandidateRow(
                candidate_no=next(NUMBERS),
                name="韩梅梅",
                id_number="140105199001011238",
                phone="13900000000",
                point_code="0113",
            )
            for _ in range(count)
        ]
        with self.system.channel("auth") as ch:
            resp = auth_pb2_grpc.AuthServiceStub(ch).CreateCandidateAccounts(
                auth_pb2.CreateCandidateAccountsRequest(rows=rows),
                timeout=60,
                metadata=self.system.bearer("province", "admin"),
            )
        assert not resp.errors, resp.errors
        return [(a.candidate_no, a.initial_password) for a in resp.accounts]

    def sign_in(self, number: str, initial: str) -> Candidate:
        """Log in through a gateway and change the initial password (the session is kept by auth)."""
        gateway = random.randrange(2)
        base = self.system.url("", gateway)
        s = requests.Session()
        resp = api_login(self.system, s, base, number, initial)
        assert resp.status_code == 200, resp.text
        body = {"old_password": initial, "new_password": NEW_PASSWORD}
        resp = s.post(f"{base}/api/v1/password", json=body, headers={"X-CSRF-Token": csrf(s, base)}, timeout=60)
        assert resp.status_code == 200, resp.text
        return Candidate(number, s, gateway, csrf(s, base))

    def publish(self, producer: KafkaProducer, topic_service: str, key: str, message) -> None:
        """An event as the service `topic_service` would publish it (a fresh ce_id)."""
        headers = build_headers(
            str(uuid.uuid4()), message.DESCRIPTOR.full_name, topic_service, utcnow().isoformat() + "Z", "faults"
        )
        producer.send(
            self.system.topic(topic_service), key=key.encode(), value=message.SerializeToString(), headers=headers
        )

    def prepare(self, pay: int, prefs: int, photos: int) -> None:
        """Candidates ready to pay, to fill preferences and to upload photos, logged in."""
        accounts = self.import_accounts(pay + prefs + photos)
        with ThreadPoolExecutor(4) as pool:
            signed = list(pool.map(lambda a: self.sign_in(*a), accounts))
        self.to_pay, self.fillers, self.photographers = signed[:pay], signed[pay : pay + prefs], signed[pay + prefs :]
        producer = KafkaProducer(bootstrap_servers=self.faults.kafka_bootstrap.split(","), acks="all")
        for c in signed:
            confirmed = registration_events_pb2.RegistrationConfirmed(
                candidate_no=c.number,
                name="韩梅梅",
                candidate_category="1",
                major_category="01",
                city_code="01",
                point_code="0113",
                at=_timestamp(),
            )
            self.publish(producer, "registration", c.number, confirmed)
        for c in self.to_pay + self.fillers:
            verified = identity_events_pb2.IdentityVerified(candidate_no=c.number, verification_id="v", at=_timestamp())
            self.publish(producer, "identity", c.number, verified)
        for c in self.fillers:
            approved = registration_events_pb2.QualificationApproved(
                candidate_no=c.number, automatic=True, at=_timestamp()
            )
            self.publish(producer, "registration", c.number, approved)
            paid = payment_events_pb2.PaymentSucceeded(
                candidate_no=c.number,
                order_no=f"seed{c.number}",
                provider="alipay",
                amount_fen=15000,
                paid_at=_timestamp(),
            )
            self.publish(producer, "payment", c.number, paid)
        producer.flush(30)
        producer.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        signer = self.system.bearer

        def as_candidate(c: Candidate) -> tuple:
            return signer("candidate", c.number, "01", "0113")

        with self.system.channel("payment") as pay_ch, self.system.channel("preferences") as pref_ch:
            pay_stub = payment_pb2_grpc.PaymentServiceStub(pay_ch)
            pref_stub = preferences_pb2_grpc.PreferencesServiceStub(pref_ch)

            def can_pay(c: Candidate) -> bool:
                req = payment_pb2.GetPaymentRequest(candidate_no=c.number)
                return pay_stub.GetPayment(req, metadata=as_candidate(c), timeout=30).can_pay

            def may_fill(c: Candidate) -> bool:
                status = pref_stub.GetStatus(preferences_pb2.GetStatusRequest(), metadata=as_candidate(c), timeout=30)
                return any(b.batch.code == "ordinary" and b.allowed for b in status.batches)

            wait_for(lambda: all(can_pay(c) for c in self.to_pay) and all(may_fill(c) for c in self.fillers), 180)
        with self.system.channel("identity") as ch:
            stub = identity_pb2_grpc.IdentityServiceStub(ch)
            for c in self.photographers:

                def consent(c: Candidate = c) -> bool:
                    try:
                        view = stub.GetMyIdentity(
                            identity_pb2.GetMyIdentityRequest(), metadata=as_candidate(c), timeout=30
                        )
                        stub.GiveConsent(
                            identity_pb2.GiveConsentRequest(version=view.consent.version),
                            metadata=as_candidate(c),
                            timeout=30,
                        )
                        return True
                    except grpc.RpcError as err:  # FAILED_PRECONDITION until the confirmation arrives
                        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION, err
                        return False

                wait_for(consent, 180)

    # ------------------------------------------------------------------ actions

    def _confirm(self, kind: str) -> None:
        with self._lock:
            self.confirmed.append((time.monotonic(), kind))

    def _expect(self, kind: str, resp: requests.Response, ok: Callable[[requests.Response], bool]) -> requests.Response:
        if ok(resp):
            return resp
        with self._lock:
            self.refusals.append(
                Refusal(
                    time.monotonic(),
                    kind,
                    resp.url,
                    resp.status_code,
                    resp.headers.get("Content-Type", ""),
                    resp.text[:4000],
                )
            )
        raise Refused(f"{kind}: {resp.status_code} {resp.url}")

    def act_account(self) -> None:
        try:
            [(number, password)] = self.import_accounts(1)
        except grpc.RpcError:
            self.stop.wait(0.3)
            return  # not confirmed: the point sees the failure and imports again
        with self._lock:
            self.accounts.append(number)
        self._confirm("account")
        base = self.system.url("", random.randrange(2))
        s = requests.Session()
        token = self._expect("account", s.get(f"{base}/api/v1/csrf", timeout=30), lambda r: r.status_code == 200)
        got = self._expect("account", s.get(f"{base}/api/v1/captcha", timeout=30), lambda r: r.status_code == 200)
        cap = got.json()
        body = {"candidate_no": number, "password": password, "captcha_id": cap["id"],
                "captcha": captcha_answer(self.system.answers, cap["id"])}  # fmt: skip
        headers = {"X-CSRF-Token": token.json()["csrf_token"]}
        self._expect(
            "account", s.post(f"{base}/api/v1/session", json=body, headers=headers, timeout=30), lambda r: r.ok
        )
        token = self._expect("account", s.get(f"{base}/api/v1/csrf", timeout=30), lambda r: r.status_code == 200)
        change = {"old_password": password, "new_password": NEW_PASSWORD}
        headers = {"X-CSRF-Token": token.json()["csrf_token"]}
        self._expect(
            "account", s.post(f"{base}/api/v1/password", json=change, headers=headers, timeout=30), lambda r: r.ok
        )
        with self._lock:
            self.changed.append(number)
        self._confirm("account")

    def act_pay(self) -> None:
        with self._lock:
            c = self.to_pay.pop(0) if len(self.to_pay) > (0 if self.closing.is_set() else self.pay_reserve) else None
        if c is None:
            self.stop.wait(0.5)
            return
        try:
            base = self.system.url("", c.gateway)
            provider = random.choice(("alipay", "wechat"))
            started = self._expect(
                "pay",
                c.session.post(
                    f"{base}/payment/start",
                    data={"csrf_token": c.csrf, "provider": provider},
                    allow_redirects=False,
                    timeout=30,
                ),
                lambda r: r.status_code == 302 and "/payment/orders/" in r.headers.get("Location", ""),
            )
            order_no = started.headers["Location"].split("/payment/orders/")[1].split("?")[0]
            page = self._expect(
                "pay", c.session.get(f"{base}/payment/orders/{order_no}", timeout=30), lambda r: r.status_code == 200
            )
            sandbox = self.system.platform.procs["payment-sandbox"].ready_check.removesuffix("/_sandbox/health")
            links = re.findall(re.escape(sandbox) + r'[^"\s<]+', page.text)
            if not links:
                raise Refused(f"no cashier link on the order page of {order_no}")
            cashier = requests.get(html.unescape(links[0]), timeout=30)
            action = _CASHIER_FORM.search(cashier.text)
            assert cashier.status_code == 200 and action, cashier.text
            done = requests.post(html.unescape(action.group(1)), timeout=30)
            assert done.status_code == 200 and "支付成功" in done.text, done.text
        except (Refused, requests.RequestException) as exc:
            if isinstance(exc, requests.RequestException):
                self.lost["pay"] += 1
            with self._lock:
                self.to_pay.append(c)  # not paid: the candidate tries again later
            self.stop.wait(0.3)
            return
        with self._lock:
            self.paid[c.number] = order_no
        self._confirm("pay")
        self.stop.wait(self.pay_pause)

    def act_prefs(self) -> None:
        c = random.choice(self.fillers)
        base = self.system.url("", c.gateway)
        picks = random.sample(EIGHT, random.randint(1, 8))
        submission_id = uuid.uuid4().hex
        data = {"csrf_token": c.csrf, "submission_id": submission_id, "action": "submit"}
        for slot, (inst, major) in zip("ABCDEFGH", picks, strict=False):
            data[f"inst_{slot}"], data[f"major_{slot}"] = inst, f"{inst}|{major}"
        with self._lock:
            self.sent[submission_id] = c.number
        for attempt in range(4):  # the same submission again while the answer does not come
            try:
                resp = c.session.post(f"{base}/preferences/ordinary", data=data, allow_redirects=False, timeout=30)
            except requests.RequestException:
                self.lost["prefs"] += 1
                self.stop.wait(1.0 + attempt)
                continue
            try:
                self._expect(
                    "prefs", resp, lambda r: r.status_code == 302 and "submitted=" in r.headers.get("Location", "")
                )
            except Refused:
                self.stop.wait(0.3)
                return
            version = int(resp.headers["Location"].split("submitted=")[1].split("&")[0])
            with self._lock:
                self.submitted[submission_id] = (c.number, version, len(picks))
            self._confirm("prefs")
            return

    def act_photo(self) -> None:
        c = random.choice(self.photographers)
        base = self.system.url("", c.gateway)
        files = {"file": ("back.jpg", jpeg(random.randrange(1 << 30)), "image/jpeg")}
        data = {"csrf_token": c.csrf, "kind": "id_card_back"}
        try:
            resp = c.session.post(f"{base}/identity/photos", data=data, files=files, allow_redirects=False, timeout=120)
        except requests.RequestException:
            self.lost["photo"] += 1
            self.stop.wait(0.3)
            return
        try:
            self._expect(
                "photo", resp, lambda r: r.status_code == 302 and "done=uploaded" in r.headers.get("Location", "")
            )
        except Refused:
            self.stop.wait(0.3)
            return
        with self._lock:
            self.uploads[c.number] += 1
        self._confirm("photo")

    def _loop(self, kind: str) -> None:
        act = getattr(self, f"act_{kind}")
        while not self.stop.is_set():
            try:
                act()
            except Refused:
                self.stop.wait(0.3)
            except requests.RequestException:
                self.lost[kind] += 1
                self.stop.wait(0.3)
            except Exception:  # noqa: BLE001 - kept and asserted on: a worker must not die silently
                with self._lock:
                    self.errors.append(traceback.format_exc())
                self.stop.wait(1.0)

    def start(self, kinds: Iterable[str] = KINDS) -> None:
        for kind in kinds:
            t = threading.Thread(target=self._loop, args=(kind,), daemon=True, name=kind)
            t.start()
            self._threads.append(t)

    def finish(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout=150)
        assert not any(t.is_alive() for t in self._threads), "a stream worker is stuck"
        assert not self.errors, self.errors[:3]

    def confirmed_between(self, since: float, until: float) -> Counter[str]:
        return Counter(kind for at, kind in self.confirmed if since <= at <= until)

    def summary(self) -> str:
        counts = Counter(kind for _, kind in self.confirmed)
        statuses = Counter((r.kind, r.status) for r in self.refusals)
        return (
            f"confirmed {dict(counts)}: {len(self.accounts)} accounts, {len(self.changed)} password changes, "
            f"{len(self.paid)} payments, {len(self.submitted)} preference versions, {sum(self.uploads.values())} "
            f"photos; refusals {dict(statuses)}; lost on the wire {dict(self.lost)}"
        )


# ---------------------------------------------------------------------- checks


def assert_clean_refusals(stream: Stream) -> None:
    """A request that failed while something was down failed with a message: 4xx or 503, never 500."""
    for r in stream.refusals:
        assert 400 <= r.status < 500 or r.status == 503, (r.kind, r.url, r.status, r.body[:500])
        assert "Traceback" not in r.body and "Internal Server Error" not in r.body, r.body[:2000]
        if "json" in r.content_type:
            assert json.loads(r.body)["error"]["message"], r.body
        else:
            assert _CHINESE.search(r.body), r.body[:2000]


def read_topics(bootstrap: str, topics: Iterable[str], timeout: float = 120) -> list:
    """Every record now on the topics, from their beginning to their end offsets (no consumer group)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
    try:
        parts = [
            TopicPartition(t, p) for t in topics if (found := consumer.partitions_for_topic(t)) for p in sorted(found)
        ]
        if not parts:
            return []
        consumer.assign(parts)
        begin, end = consumer.beginning_offsets(parts), consumer.end_offsets(parts)
        pending = {p for p in parts if end[p] > begin[p]}
        consumer.seek_to_beginning(*pending)
        records = []
        deadline = time.monotonic() + timeout
        while pending:
            assert time.monotonic() < deadline, f"topics not read to their end: {pending}"
            for tp, batch in consumer.poll(timeout_ms=500).items():
                records.extend(batch)
                if batch[-1].offset + 1 >= end[tp]:
                    pending.discard(tp)
        return records
    finally:
        consumer.close()


def _ce_type(record) -> str:
    return dict(record.headers).get("ce_type", b"").decode()


def _ce_id(record) -> str:
    return dict(record.headers).get("ce_id", b"").decode()


def unpublished(faults: Faults, service: str) -> int:
    with faults.db(service).connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")).scalar_one())


def assert_everything_delivered(faults: Faults, timeout: float = 180) -> list:
    """Every outbox is empty, nothing is dead-lettered, and every event on the topics was handled
    by each consumer group that handles its type. Returns the topics' records."""
    system = faults.system
    wait_for(lambda: all(unpublished(faults, s) == 0 for s in PRODUCERS), timeout)
    topics = [system.topic(s) for s in PRODUCERS]
    dead = read_topics(faults.kafka_bootstrap, [t + ".dlq" for t in topics])
    assert not dead, [(r.topic, dict(r.headers).get("x-dlq-error")) for r in dead]
    records = read_topics(faults.kafka_bootstrap, topics)
    expected: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        for service, group in CONSUMERS.get(_ce_type(r), []):
            expected[(service, group)].add(_ce_id(r))

    def missing() -> dict[tuple[str, str], int]:
        gaps = {}
        for (service, group), ids in expected.items():
            with faults.db(service).connect() as conn:
                handled = set(
                    conn.execute(
                        text("SELECT ce_id FROM processed_events WHERE consumer = :g"), {"g": faults.group(group)}
                    ).scalars()
                )
            if ids - handled:
                gaps[(service, group)] = len(ids - handled)
        return gaps

    wait_for(lambda: not missing(), timeout)
    print(f"{len(records)} events on the topics, each handled by its consumers: "
          + ", ".join(f"{g} {len(ids)}" for (_, g), ids in sorted(expected.items())))  # fmt: skip
    return records


def assert_no_action_lost_or_doubled(stream: Stream, records: list | None = None) -> None:
    """What was confirmed holds; each confirmed action has one event id; no half-written records."""
    faults, system = stream.faults, stream.faults.system

    # Payments: every payment the provider took is in our books (notified or found by a query).
    def books() -> dict[str, list[tuple[str, str]]]:
        with faults.db("payment").connect() as conn:
            rows = conn.execute(text("SELECT candidate_no, order_no, state FROM orders WHERE paid_at IS NOT NULL"))
            out: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for number, order_no, state in rows:
                out[number].append((order_no, state))
            return out

    paid = wait_for(lambda: (b := books()) and all(n in b for n in stream.paid) and b, 120) if stream.paid else {}
    records = records if records is not None else assert_everything_delivered(faults)
    fillers = {c.number for c in stream.fillers}
    events: dict[tuple[str, str], set[str]] = defaultdict(set)
    versions_on_kafka: dict[tuple[str, int], set[str]] = defaultdict(set)
    for r in records:
        ce_type = _ce_type(r)
        if ce_type.endswith(".CandidateAccountCreated"):
            events[(auth_events_pb2.CandidateAccountCreated.FromString(r.value).candidate_no, "created")].add(_ce_id(r))
        elif ce_type.endswith(".SecurityEventRecorded"):
            e = auth_events_pb2.SecurityEventRecorded.FromString(r.value)
            events[(e.subject, e.kind)].add(_ce_id(r))
        elif ce_type.endswith(".PaymentSucceeded") and r.topic == system.topic("payment"):
            e = payment_events_pb2.PaymentSucceeded.FromString(r.value)
            if not e.order_no.startswith("seed"):
                events[(e.candidate_no, "paid")].add(_ce_id(r))
        elif ce_type.endswith(".PreferencesSubmitted"):
            e = preferences_events_pb2.PreferencesSubmitted.FromString(r.value)
            if e.candidate_no in fillers:
                versions_on_kafka[(e.candidate_no, e.version)].add(_ce_id(r))

    # Accounts: each import and each password change once on Kafka; the new password holds;
    # registration opened each confirmed account.
    for number in stream.accounts:
        assert len(events[(number, "created")]) == 1, (number, events[(number, "created")])
    for number in stream.changed:
        assert len(events[(number, "password_changed")]) == 1, number
        s = requests.Session()
        assert api_login(system, s, system.url(""), number, NEW_PASSWORD).status_code == 200, number
    with faults.db("registration").connect() as conn:
        opened = set(conn.execute(text("SELECT candidate_no FROM candidates")).scalars())
    assert set(stream.accounts) <= opened

    # Payments: paid once in our books, announced once, recorded by registration.
    for number, order_no in stream.paid.items():
        assert paid[number] == [(order_no, "paid")], (number, paid[number])
        assert len(events[(number, "paid")]) == 1, (number, events[(number, "paid")])
    with faults.db("registration").connect() as conn:
        succeeded = set(
            conn.execute(text("SELECT candidate_no FROM candidates WHERE payment_status = 'succeeded'")).scalars()
        )
    assert set(stream.paid) <= succeeded

    # Preferences: each confirmed submission saved once, whole; every saved version announced once;
    # results holds each candidate's latest version.
    with faults.db("preferences").connect() as conn:
        saved = {
            key: (number, version, items)
            for key, number, version, items in conn.execute(
                text(
                    "SELECT v.idempotency_key, v.candidate_no, v.number, COUNT(i.slot) FROM preference_versions v "
                    "LEFT JOIN preference_items i ON i.version_id = v.id GROUP BY v.id, v.idempotency_key, "
                    "v.candidate_no, v.number"
                )
            )
        }
    for key, (number, version, items) in stream.submitted.items():
        assert saved[key] == (number, version, items), (key, saved.get(key), (number, version, items))
    ours = {k: v for k, v in saved.items() if k in stream.sent}
    assert all(items > 0 for _, _, items in ours.values()), "a version was saved without its items"
    assert {(n, v) for n, v, _ in ours.values()} == set(versions_on_kafka), "saved versions and events differ"
    assert all(len(ids) == 1 for ids in versions_on_kafka.values()), versions_on_kafka
    latest: dict[str, int] = {}
    for number, version, _ in ours.values():
        latest[number] = max(version, latest.get(number, 0))
    with faults.db("results").connect() as conn:
        held = dict(
            conn.execute(
                text(
                    "SELECT c.candidate_no, p.version FROM preferences p JOIN candidates c ON c.id = p.candidate_id "
                    "WHERE p.batch_code = 'ordinary'"
                )
            ).all()
        )
    assert {n: held.get(n) for n in latest} == latest

    # Photos: every photo row points at an object in MinIO (a row never points at nothing).
    store = open_object_store(faults.infra.minio_url, "zsb-identity-photos")
    with faults.db("identity").connect() as conn:
        rows = conn.execute(text("SELECT candidate_no, object_key FROM photos WHERE deleted_at IS NULL")).all()
    by_candidate = {number for number, _ in rows}
    assert set(stream.uploads) <= by_candidate
    for number, key in rows:
        assert store.exists(key), (number, key)


def run_stream(
    faults: Faults,
    fault: Callable[[Stream], None],
    pay: int = 24,
    prefs: int = 6,
    photos: int = 3,
    pay_pause: float = 2.0,
) -> Stream:
    """Prepare candidates and run the stream around `fault`, which gets the running stream."""
    stream = Stream(faults, pay_pause=pay_pause)
    stream.prepare(pay, prefs, photos)
    stream.start()
    try:
        fault(stream)
    finally:
        stream.finish()
    print(stream.summary())
    return stream


def wait_for_confirmations(stream: Stream, kinds: Iterable[str], since: float, timeout: float = 180) -> None:
    """Until each kind of action has been confirmed again after `since` (the platform recovered)."""
    wanted = set(kinds)
    deadline = time.monotonic() + timeout
    while not wanted <= set(stream.confirmed_between(since, time.monotonic())):
        if time.monotonic() > deadline:
            seen = stream.confirmed_between(since, time.monotonic())
            raise AssertionError(f"not confirmed again: {wanted - set(seen)}; {stream.summary()}")
        time.sleep(0.3)


def recovered(stream: Stream, timeout: float = 180) -> None:
    """After the last fault: every kind of action is confirmed again (the reserve may pay now)."""
    stream.closing.set()
    wait_for_confirmations(stream, KINDS, since=time.monotonic(), timeout=timeout)
