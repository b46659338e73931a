"""Reference data behind the drop-down lists of the 报名信息登记表.

The province maintains these lists; the validators take a `ReferenceData` as input so a change is
a data change, not a code change. `SEED` is the set a fresh installation starts with:
民族 (the 56 ethnic groups, GB/T 3304 codes), 政治面貌 (GB/T 4762), 考生类别, 考生类型,
报考专业类别 of Shanxi's 专升本, the 11 cities of Shanxi (01-11), example 报名点 and the
测试主项 of the music category. `ReferenceData.from_dict`/`to_dict` carry it as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from services.registration.domain.documents import BONUS_POINTS_CEILING, BONUS_POINTS_MAX, DocumentKind


@dataclass(frozen=True)
class Option:
    """One entry of a drop-down list: a stable code and the text shown and printed."""

    code: str
    name: str


@dataclass(frozen=True)
class CandidateType(Option):
    """考生类型; `documents` are the materials every candidate of this type must upload."""

    documents: frozenset[DocumentKind] = frozenset()


@dataclass(frozen=True)
class MajorCategory(Option):
    """报考专业(类别), shown as 财经类(01); it belongs to one 考生类别."""

    candidate_category: str = ""
    needs_test_subject: bool = False  # the music category: the candidate chooses a 测试主项

    @property
    def label(self) -> str:
        return f"{self.name}({self.code})"


@dataclass(frozen=True)
class RegistrationPoint(Option):
    """报名点 (usually the candidate's college); its code starts with its city's code."""

    city_code: str = ""


@dataclass(frozen=True)
class OptionList:
    """An ordered list of options with lookup by code."""

    options: tuple[Option, ...]

    def __post_init__(self) -> None:
        codes = [o.code for o in self.options]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate codes in a reference list")

    def get(self, code: str) -> Option | None:
        return next((o for o in self.options if o.code == code), None)

    def __contains__(self, code: object) -> bool:
        return any(o.code == code for o in self.options)

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)


def _options(cls: type[Option], rows: Iterable[Mapping[str, Any]]) -> OptionList:
    built = []
    for row in rows:
        kwargs = dict(row)
        if cls is CandidateType:
            kwargs["documents"] = frozenset(DocumentKind(d) for d in kwargs.get("documents", ()))
        built.append(cls(**kwargs))
    return OptionList(tuple(built))


def _rows(options: OptionList) -> list[dict[str, Any]]:
    rows = []
    for o in options:
        row = {k: getattr(o, k) for k in o.__dataclass_fields__}
        if isinstance(o, CandidateType):
            row["documents"] = sorted(d.value for d in o.documents)
        rows.append(row)
    return rows


# The lists of `ReferenceData` and the option type of each.
_LIST_KINDS: dict[str, type[Option]] = {
    "ethnicities": Option,
    "political_statuses": Option,
    "candidate_categories": Option,
    "candidate_types": CandidateType,
    "major_categories": MajorCategory,
    "cities": Option,
    "points": RegistrationPoint,
    "music_test_subjects": Option,
}


@dataclass(frozen=True)
class ReferenceData:
    """Every list the form's drop-downs come from, the age range the province accepts, and the most
    奖励加分 a reviewer may grant one candidate."""

    ethnicities: OptionList
    political_statuses: OptionList
    candidate_categories: OptionList
    candidate_types: OptionList
    major_categories: OptionList
    cities: OptionList
    points: OptionList
    music_test_subjects: OptionList
    min_age: int = 16
    max_age: int = 60
    bonus_points_max: int = BONUS_POINTS_MAX

    def __post_init__(self) -> None:
        for category in self.major_categories:
            if not isinstance(category, MajorCategory):
                raise ValueError("major categories must be MajorCategory")
            if category.candidate_category not in self.candidate_categories:
                raise ValueError(f"major category {category.code} names an unknown candidate category")
        for point in self.points:
            if not isinstance(point, RegistrationPoint):
                raise ValueError("points must be RegistrationPoint")
            if point.city_code not in self.cities or not point.code.startswith(point.city_code):
                raise ValueError(f"registration point {point.code} does not belong to a known city")
        if not all(isinstance(t, CandidateType) for t in self.candidate_types):
            raise ValueError("candidate types must be CandidateType")
        if not 0 < self.min_age <= self.max_age:
            raise ValueError("age range is empty")
        if not 0 <= self.bonus_points_max <= BONUS_POINTS_CEILING:
            raise ValueError(f"bonus_points_max must be a whole number from 0 to {BONUS_POINTS_CEILING}")

    def candidate_type(self, code: str) -> CandidateType | None:
        found = self.candidate_types.get(code)
        return found if isinstance(found, CandidateType) else None

    def major_category(self, code: str) -> MajorCategory | None:
        found = self.major_categories.get(code)
        return found if isinstance(found, MajorCategory) else None

    def point(self, code: str) -> RegistrationPoint | None:
        found = self.points.get(code)
        return found if isinstance(found, RegistrationPoint) else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceData:
        """Build from the JSON shape `to_dict` writes; raises ValueError on inconsistent data."""
        try:
            lists = {name: _options(kind, data.get(name, ())) for name, kind in _LIST_KINDS.items()}
            bonus_max = data.get("bonus_points_max", BONUS_POINTS_MAX)
            if isinstance(bonus_max, bool) or not isinstance(bonus_max, int):
                raise ValueError("bonus_points_max must be a whole number")
            return cls(
                **lists,
                min_age=int(data.get("min_age", 16)),
                max_age=int(data.get("max_age", 60)),
                bonus_points_max=bonus_max,
            )
        except (TypeError, KeyError) as exc:
            raise ValueError(f"malformed reference data: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: _rows(getattr(self, name)) for name in _LIST_KINDS}
        out["min_age"] = self.min_age
        out["max_age"] = self.max_age
        out["bonus_points_max"] = self.bonus_points_max
        return out


_ETHNICITIES = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
]

_POLITICAL = [
    "中共党员",
    "中共预备党员",
    "共青团员",
    "民革党员",
    "民盟盟员",
    "民建会员",
    "民进会员",
    "农工党党员",
    "致公党党员",
    "九三学社社员",
    "台盟盟员",
    "无党派人士",
    "群众",
]

_CITIES = ["太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城", "忻州", "临汾", "吕梁"]

_VETERAN = [DocumentKind.CONSCRIPT.value]

SEED_DICT: dict[str, Any] = {
    "ethnicities": [{"code": f"{i:02d}", "name": n} for i, n in enumerate(_ETHNICITIES, 1)],
    "political_statuses": [{"code": f"{i:02d}", "name": n} for i, n in enumerate(_POLITICAL, 1)],
    "candidate_categories": [
        {"code": "1", "name": "普通类"},
        {"code": "2", "name": "艺术类"},
        {"code": "3", "name": "体育类"},
    ],
    "candidate_types": [
        {"code": "1", "name": "农村应届"},
        {"code": "2", "name": "城镇应届"},
        {"code": "3", "name": "农村往届"},
        {"code": "4", "name": "城镇往届"},
        {"code": "5", "name": "退役士兵", "documents": _VETERAN},
        {"code": "6", "name": "退役复学人员", "documents": _VETERAN},
        {"code": "7", "name": "退役（外省学籍，本省入伍）复学人员", "documents": _VETERAN},
    ],
    "major_categories": [
        {"code": "01", "name": "财经类", "candidate_category": "1"},
        {"code": "02", "name": "管理类", "candidate_category": "1"},
        {"code": "03", "name": "文史类", "candidate_category": "1"},
        {"code": "04", "name": "法学类", "candidate_category": "1"},
        {"code": "05", "name": "教育类", "candidate_category": "1"},
        {"code": "06", "name": "外语类", "candidate_category": "1"},
        {"code": "07", "name": "理工类", "candidate_category": "1"},
        {"code": "08", "name": "计算机类", "candidate_category": "1"},
        {"code": "09", "name": "农林类", "candidate_category": "1"},
        {"code": "10", "name": "医学类", "candidate_category": "1"},
        {"code": "11", "name": "护理类", "candidate_category": "1"},
        {"code": "21", "name": "音乐类", "candidate_category": "2", "needs_test_subject": True},
        {"code": "22", "name": "美术与设计类", "candidate_category": "2"},
        {"code": "23", "name": "舞蹈类", "candidate_category": "2"},
        {"code": "31", "name": "体育类", "candidate_category": "3"},
    ],
    "cities": [{"code": f"{i:02d}", "name": f"{n}市"} for i, n in enumerate(_CITIES, 1)],
    # Example points, one or more per city; the province loads the real list each year.
    "points": [
        {"code": "0101", "name": "山西省财政税务专科学校", "city_code": "01"},
        {"code": "0102", "name": "山西职业技术学院", "city_code": "01"},
        {"code": "0113", "name": "山西工程职业学院", "city_code": "01"},
        {"code": "0201", "name": "大同煤炭职业技术学院", "city_code": "02"},
        {"code": "0301", "name": "阳泉职业技术学院", "city_code": "03"},
        {"code": "0401", "name": "长治职业技术学院", "city_code": "04"},
        {"code": "0501", "name": "晋城职业技术学院", "city_code": "05"},
        {"code": "0601", "name": "朔州职业技术学院", "city_code": "06"},
        {"code": "0701", "name": "晋中职业技术学院", "city_code": "07"},
        {"code": "0801", "name": "运城职业技术大学", "city_code": "08"},
        {"code": "0901", "name": "忻州职业技术学院", "city_code": "09"},
        {"code": "1001", "name": "临汾职业技术学院", "city_code": "10"},
        {"code": "1101", "name": "吕梁职业技术学院", "city_code": "11"},
    ],
    "music_test_subjects": [
        {"code": "1", "name": "声乐"},
        {"code": "2", "name": "钢琴"},
        {"code": "3", "name": "民族器乐"},
        {"code": "4", "name": "西洋器乐"},
    ],
    "min_age": 16,
    "max_age": 60,
    "bonus_points_max": BONUS_POINTS_MAX,
}

SEED = ReferenceData.from_dict(SEED_DICT)
