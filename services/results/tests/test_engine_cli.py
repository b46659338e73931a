"""The dispatch command line on files: the documented example, bad input, reproducibility."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.results.domain.admission import derive_random_code
from services.results.engine_cli import main

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "admission-files.md"


def doc_blocks(kind: str) -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    return {m[1]: m[2] for m in re.finditer(rf"<!-- {kind}: (\S+) -->\s*```\w*\n(.*?)```", text, re.DOTALL)}


@pytest.fixture
def example(tmp_path: Path) -> Path:
    for name, content in doc_blocks("example").items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    return tmp_path


def run_cli(folder: Path, *extra: str, config: bool = True, returns: bool = True) -> int:
    args = ["--candidates", str(folder / "candidates.csv"), "--plans", str(folder / "plans.csv")]
    args += ["--out", str(folder / "results.csv"), "--plans-out", str(folder / "plan_results.csv")]
    args += ["--config", str(folder / "config.json")] if config else []
    args += ["--returns", str(folder / "returns.csv")] if returns else []
    return main([*args, *extra])


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig")


def test_documented_example_gives_the_documented_outputs(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = doc_blocks("expected")
    assert set(expected) == {"results.csv", "plan_results.csv"}
    assert run_cli(example) == 0
    for name, content in expected.items():
        assert read(example / name) == content
    assert (example / "results.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for Excel
    summary = json.loads(capsys.readouterr().out)
    assert (summary["candidates"], summary["plans"], summary["dispatched"]) == (8, 4, 6)
    assert set(summary["sha256"]) == {str(example / n) for n in (*doc_blocks("example"), *expected)}


def test_a_rerun_is_byte_identical(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(example) == 0
    first = json.loads(capsys.readouterr().out)["sha256"]
    assert run_cli(example) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == first


def test_runs_as_a_module(example: Path) -> None:
    out = example / "module.csv"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'libs'}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "services.results.engine_cli", "--candidates", str(example / "candidates.csv"),
         "--plans", str(example / "plans.csv"), "--config", str(example / "config.json"), "--out", str(out)],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(read(out).splitlines()))
    assert len(rows) == 8
    assert {r["candidate_id"]: r["status"] for r in rows}["25140100000006"] == "not_dispatched"
    assert json.loads(done.stdout)["dispatched"] == 6


def test_first_run_without_returns_and_solicitation(example: Path) -> None:
    assert run_cli(example, returns=False) == 0
    rows = {r["candidate_id"]: r for r in csv.DictReader(read(example / "results.csv").splitlines())}
    assert rows["25140100000007"]["status"] == "dispatched"
    assert rows["25140100000008"]["status"] == "not_dispatched"


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        ("candidates.csv", lambda t: t.replace(",230,10,", ",230.5,10,"), "candidates.csv 第 3 行: score 须为非负整数"),
        ("candidates.csv", lambda t: t.replace("10112/080901,,\n", "10112-080901,,\n", 1), "须为 “院校代码/专业代码”"),
        ("candidates.csv", lambda t: t.replace("jdlk,专业课", "jdlk,专业科"), "缺少列 专业课"),
        ("candidates.csv", lambda t: t.replace("pref:ordinary:B", "pref:ordinary:I"), "无法识别的列 pref:ordinary:I"),
        ("candidates.csv", lambda t: t.replace(",否,", ",不是,", 1), "jdlk 须为 是/否"),
        ("candidates.csv", lambda t: t.replace("25140100000002", "25140100000001"), "考生号重复"),
        ("candidates.csv", lambda t: t + "25140100000009,计算机类,200,0,否,1,1,,,,,extra\n", "第 10 行: 列数多于表头"),
        ("plans.csv", lambda t: t.replace(",2\n", ",两\n", 1), "plans.csv 第 3 行: places 须为非负整数"),
        ("returns.csv", lambda t: t.replace("25140100000007", "25140100000006"), "未在 普通批本科 本轮投档"),
        ("returns.csv", lambda t: t.replace(",regular,", ",again,"), "stage 须为 regular 或 solicitation"),
        ("config.json", lambda t: t.replace('"tie_break"', '"tiebreak"'), "无法识别的键 tiebreak"),
        (
            "config.json",
            lambda t: t.replace('"ratio_percent": 100, "solicitation": true', '"ratio_percent": 130'),
            "调档比例",
        ),
        ("config.json", lambda t: t.replace('"经济与管理类": 150', '"经济与管理类": "150"'), "控制线须为"),
        ("config.json", lambda t: t[:-3], "无法读取配置"),
    ],
)
def test_bad_input_writes_nothing_and_reports_in_chinese(
    example: Path, capsys: pytest.CaptureFixture[str], file: str, edit: object, message: str
) -> None:
    path = example / file
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    (example / "results.csv").write_text("earlier run\n", encoding="utf-8")
    assert run_cli(example) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误: ")
    assert message in err
    assert read(example / "results.csv") == "earlier run\n"
    assert not (example / "plan_results.csv").exists()
    assert not [p for p in example.iterdir() if p.name.startswith(".")]


def test_missing_file_is_reported(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example / "plans.csv").unlink()
    assert run_cli(example) == 2
    assert "无法读取文件" in capsys.readouterr().err


def test_random_codes_follow_the_seed_and_break_full_ties(tmp_path: Path) -> None:
    (tmp_path / "plans.csv").write_text("batch,institution,major,category,places\nordinary,1,1,A,1\n", encoding="utf-8")
    ids = [f"2514{i:010d}" for i in range(6)]
    rows = "".join(f"{cid},A,200,1/1\n" for cid in ids)
    (tmp_path / "candidates.csv").write_text("candidate_id,category,score,pref:ordinary:A\n" + rows, encoding="utf-8")
    for seed in ("甲", "乙", "丙"):
        (tmp_path / "config.json").write_text(json.dumps({"random_seed": seed}), encoding="utf-8")
        assert run_cli(tmp_path, returns=False) == 0
        got = {r["candidate_id"]: r for r in csv.DictReader(read(tmp_path / "results.csv").splitlines())}
        by_code = sorted(ids, key=lambda cid: derive_random_code(seed, cid))
        assert [got[cid]["rank"] for cid in by_code] == ["1", "2", "3", "4", "5", "6"]
        assert got[by_code[0]]["status"] == "dispatched"


def test_explicit_random_codes_and_bom_input(tmp_path: Path) -> None:
    (tmp_path / "plans.csv").write_text(
        "batch,institution,major,category,places\nordinary,1,1,A,1\n", encoding="utf-8-sig"
    )
    text = "candidate_id,category,score,random_code,pref:ordinary:A\nx,A,200,9,1/1\ny,A,200,3,1/1\n"
    (tmp_path / "candidates.csv").write_text(text, encoding="utf-8-sig")
    assert run_cli(tmp_path, config=False, returns=False) == 0  # default config: no line, no tie-break fields
    got = {r["candidate_id"]: r["status"] for r in csv.DictReader(read(tmp_path / "results.csv").splitlines())}
    assert got == {"x": "not_dispatched", "y": "dispatched"}
