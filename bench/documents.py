"""表格下载: rendering the four PDFs, and seating a province's candidates.

- Rendering: median time of each document rendered cold (no cache), against a baseline measured
  in the same run: a one-line PDF with the same font (what the font alone costs: parsing and
  subsetting the CJK font is most of a document). Then a repeat of the same document, served from
  the content-keyed cache.
- Seating: `arrange` for 60,000 candidates in 11 cities and 15 categories, rooms of 30, against
  the baseline of sorting the same candidates by their seating key alone.
"""

from __future__ import annotations

import io
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from PIL import Image, ImageDraw

from services.registration.documents.config import DocumentsConfig
from services.registration.documents.domain import Examinee, Room, arrange
from services.registration.documents.domain.arrangement import seating_key
from services.registration.documents.render import Renderer
from services.registration.documents.render.base import FontBook
from services.registration.documents.render.models import (
    BonusFormView,
    MedicalFormView,
    Person,
    Progress,
    RegistrationFormView,
    ResumeLine,
    SessionLine,
    TicketView,
)

RUNS = 5
CANDIDATES = 60_000
CITIES = [f"{i:02d}" for i in range(1, 12)]
CATEGORIES = [f"{i:02d}" for i in range(1, 16)]
ROOM_SIZE = 30


def _median(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _photo() -> bytes:
    rnd = random.Random(7)
    image = Image.new("RGB", (600, 800), (67, 142, 219))
    draw = ImageDraw.Draw(image)
    for _ in range(3000):  # texture, so the JPEG is photo-sized
        x, y = rnd.randrange(600), rnd.randrange(800)
        draw.point((x, y), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw.ellipse((170, 140, 430, 470), fill=(236, 205, 175))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _views():
    person = Person(
        candidate_no="21145101130001",
        name="张晓明",
        sex="男",
        ethnicity="汉族",
        political_status="共青团员",
        birth_date="2003-09-15",
        id_number="140105200309151318",
        phone="13812345678",
        graduated_school="山西工程职业学院",
        college_major_code="530302",
        college_major_name="大数据与会计",
        candidate_category="普通类",
        candidate_type="城镇应届",
        major_category="财经类(01)",
        music_test_subject="",
        city="太原市",
        point="山西工程职业学院",
        poverty_registered="否",
        claims_bonus_points="是",
        awards="2023年全国职业院校技能大赛会计技能赛项一等奖",
        household="山西省 太原市 小店区",
        recipient="张晓明",
        recipient_phone="13912345678",
        postal_code="030006",
        mailing_address="山西省太原市小店区坞城路92号",
        resume=(
            ResumeLine("2018-09", "2021-07", "太原市第五中学", "学生"),
            ResumeLine("2021-09", "至今", "山西工程职业学院", "学生"),
        ),
    )
    photo, title = _photo(), "2026年山西省普通高校专升本选拔考试"
    progress = Progress("2026-03-01 10:12", "已通过", "已缴费（¥120.00）", "审核通过")
    sessions = (SessionLine("2026年4月18日（星期六）", "09:00-11:30", "大学语文"),)
    ticket = TicketView(
        title, person.candidate_no, person.name, "1401**********1318", "财经类(01)", "山西大学附属中学",
        "太原市小店区坞城路1号", "018", "教学楼A座201", "07", sessions,
        "https://zsb.example.cn/ticket/verify/AQ0123456789abcdefABCDEFGHIJKLMNOPQRSTU",
        "AQ0123456789abcdefABCDEFGHIJKLMNOPQRSTU", photo,
    )  # fmt: skip
    return {
        "报名信息登记表": RegistrationFormView(title, person, progress, photo),
        "体检表": MedicalFormView(title, person, photo),
        "录取加分登记表": BonusFormView(title, person, photo),
        "准考证": ticket,
    }


def bench_rendering() -> None:
    config = DocumentsConfig(cache_entries=0)
    renderer, fonts = Renderer(config), FontBook(config)

    def one_line() -> bytes:
        sheet = fonts.document(["山西省普通高校专升本选拔考试"])
        sheet.add_page()
        sheet.cell(0, 10, "山西省普通高校专升本选拔考试")
        return bytes(sheet.output())

    one_line()  # warm the coverage cache and imports
    baseline = _median(one_line)
    print(f"baseline: one-line PDF with the CJK font {baseline * 1000:.0f} ms")
    for name, view in _views().items():
        seconds = _median(lambda view=view: renderer.render(view))
        size = len(renderer.render(view))
        ratio = seconds / baseline
        print(f"{name}: {seconds * 1000:.0f} ms cold, {size / 1024:.0f} KiB, ratio to baseline {ratio:.2f}")
    cached = Renderer(DocumentsConfig(cache_entries=8))
    view = _views()["报名信息登记表"]
    cold = _median(lambda: Renderer(DocumentsConfig(cache_entries=0)).render(view), runs=3)
    cached.render(view)
    hit = _median(lambda: cached.render(replace(view)), runs=50)  # an equal view: the same data
    print(f"repeat download of unchanged data: {hit * 1e6:.0f} µs from the cache, {cold / hit:.0f}x faster than cold")


def bench_seating() -> None:
    rnd = random.Random(20260301)
    people = [Examinee(f"2114{i:010d}", rnd.choice(CITIES), rnd.choice(CATEGORIES)) for i in range(CANDIDATES)]
    rooms, next_id = [], 1
    for city in CITIES:
        groups = {e.major_category for e in people if e.city_code == city}
        need = sum(1 for e in people if e.city_code == city) // ROOM_SIZE + len(groups) + 1
        for n in range(need):
            rooms.append(Room(next_id, f"{city}{n // 40:02d}", city, f"{n % 40:03d}", ROOM_SIZE))
            next_id += 1
    baseline = _median(lambda: sorted(people, key=lambda e: seating_key("zsb", e.candidate_no)), runs=3)
    seconds = _median(lambda: arrange(people, rooms, "zsb"), runs=3)
    seats = arrange(people, rooms, "zsb")
    print(f"baseline: sorting {CANDIDATES} candidates by seating key {baseline * 1000:.0f} ms")
    print(
        f"arrange: {CANDIDATES} candidates into {len({s.room_id for s in seats})} of {len(rooms)} rooms "
        f"in {seconds * 1000:.0f} ms, ratio to baseline {seconds / baseline:.2f}"
    )


def main() -> None:
    bench_rendering()
    bench_seating()


if __name__ == "__main__":
    main()
