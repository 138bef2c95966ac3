"""The held-out evaluation set (eval/questions.yaml) is valid, and its checker catches bad sets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHECKER_PATH = PROJECT_ROOT / "eval" / "check_questions.py"


def _load_checker():
    spec = importlib.util.spec_from_file_location("eval_check_questions", CHECKER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


checker = _load_checker()
DATA_DIR = checker.shared_dir() / "data"
needs_crawl = pytest.mark.skipif(
    not (DATA_DIR / "procedures-dvcqg" / "raw").is_dir(), reason="shared crawl not available"
)


@pytest.fixture(scope="module")
def crawl_names() -> dict[str, str]:
    return checker.load_crawl_names(DATA_DIR)


@needs_crawl
def test_project_eval_set_passes_every_check() -> None:
    report = checker.check_file(checker.DEFAULT_QUESTIONS)
    assert report.ok, report.summary()
    assert report.total >= checker.MIN_QUESTIONS
    assert report.out_of_scope >= checker.MIN_OUT_OF_SCOPE
    assert report.without_diacritics * 2 >= report.total
    assert "?" not in report.by_topic


@needs_crawl
def test_crawl_index_covers_both_crawls(crawl_names: dict[str, str]) -> None:
    assert crawl_names["1.001193"] == "thủ tục đăng ký khai sinh"
    assert "nghĩa vụ quân sự" in crawl_names["1.013133"]  # Ministry of Defence crawl
    assert len(crawl_names) > 2800


def _set(*entries: str) -> str:
    body = "\n".join(f"  {entry}" for entry in entries)
    return f"questions:\n  # topic: thử\n{body}\n"


def _problems(text: str, crawl_names: dict[str, str], dev: set[str] | None = None) -> list[str]:
    return checker.check_text(text, crawl_names, dev or set()).problems


@needs_crawl
def test_unknown_and_malformed_codes_are_reported(crawl_names: dict[str, str]) -> None:
    problems = _problems(
        _set('- {q: "lam khai sinh", codes: ["9.999999"]}', '- {q: "ket hon", codes: ["1000894"]}'),
        crawl_names,
    )
    assert any("9.999999 is not in the raw data" in problem for problem in problems)
    assert any("malformed code '1000894'" in problem for problem in problems)


@needs_crawl
def test_bad_or_clashing_name_regexes_are_reported(crawl_names: dict[str, str]) -> None:
    problems = _problems(
        _set(
            '- {q: "tro cap that nghiep", names: ["hưởng trợ cấp (thất nghiệp"]}',
            '- {q: "khai sinh cho con", names: ["khai sinh"]}',
        ),
        crawl_names,
    )
    assert any("bad names regex" in problem for problem in problems)
    assert any("also matches crawled procedures" in problem for problem in problems)


@needs_crawl
def test_schema_errors_are_reported_not_raised(crawl_names: dict[str, str]) -> None:
    bad_entries = (
        '- {q: "x", codes: ["1.001193"], tags: [a]}',
        '- {q: "", codes: []}',
        "- {q: 12, codes: []}",
    )
    for entry in bad_entries:
        assert any("schema" in problem for problem in _problems(_set(entry), crawl_names)), entry
    assert any("not valid YAML" in p for p in _problems("questions: [ {q: ", crawl_names))
    assert any("top level" in p for p in _problems("- just a list", crawl_names))
    assert any("top level" in p for p in _problems("", crawl_names))


@needs_crawl
def test_counts_duplicates_dev_copies_and_topics(crawl_names: dict[str, str]) -> None:
    text = (
        "questions:\n"
        '  - {q: "thoi tiet mai", codes: []}\n'
        "  # topic: hộ tịch\n"
        '  - {q: "Đăng ký kết hôn", codes: ["1.000894"]}\n'
        '  - {q: "đăng ký  kết hôn", codes: ["1.000894"]}\n'
        '  - {q: "xin giay xac nhan doc than", codes: ["1.004873"]}\n'
    )
    report = checker.check_text(text, crawl_names, {"xin giay xac nhan doc than"})
    assert report.total == 4
    assert report.out_of_scope == 1
    assert report.without_diacritics == 2
    assert report.by_topic["hộ tịch"] == 3
    joined = "\n".join(report.problems)
    assert "no `# topic:` comment" in joined
    assert "duplicate of #2" in joined
    assert "copied from the shared dev set" in joined
    assert f"need at least {checker.MIN_QUESTIONS}" in joined
    assert f"need at least {checker.MIN_OUT_OF_SCOPE}" in joined


def test_diacritics_detection() -> None:
    assert checker.has_diacritics("làm căn cước")
    assert checker.has_diacritics("đi")
    assert checker.has_diacritics("Đ")
    assert not checker.has_diacritics("lam can cuoc o dau, bn tien?")
    assert not checker.has_diacritics("")


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    binary = tmp_path / "questions.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    report = checker.check_file(binary, data_root=tmp_path)
    assert not report.ok  # no crawl under tmp_path, and the file is not UTF-8 either
    (tmp_path / "data" / "procedures-dvcqg" / "raw" / "bo-tu-phap").mkdir(parents=True)
    (tmp_path / "data" / "procedures-dvcqg" / "raw" / "bo-tu-phap" / "1.001193.json").write_text(
        '{"ten_thu_tuc": "Thủ tục đăng ký khai sinh"}', encoding="utf-8"
    )
    report = checker.check_file(binary, data_root=tmp_path)
    assert any("cannot read" in problem for problem in report.problems)
    assert checker.main([str(tmp_path / "missing.yaml")]) == 1


@needs_crawl
def test_narrative_eval_set_passes_every_check() -> None:
    report = checker.check_file(checker.NARRATIVE_QUESTIONS, narrative=True)
    assert report.ok, report.summary()
    assert report.total >= checker.MIN_NARRATIVE_QUESTIONS
    assert report.by_split["test"] >= checker.MIN_NARRATIVE_TEST
    assert report.by_split["train"] + report.by_split["test"] == report.total
    assert report.without_diacritics * 2 >= report.total


@needs_crawl
def test_narrative_rules_need_a_split_and_no_line_of_the_short_set(crawl_names: dict[str, str]) -> None:
    text = _set(
        '- {q: "Con toi sinh thang truoc. Lam khai sinh o dau?", codes: ["1.001193"], split: train}',
        '- {q: "Ba toi 61 tuoi. Lam luong huu the nao?", codes: []}',
        '- {q: "Toi mat can cuoc. Lam lai o dau?", codes: ["1.014064"], split: dev}',
    )
    report = checker.check_text(text, crawl_names, set(), narrative=True,
                                other_questions={"con toi sinh thang truoc. lam khai sinh o dau?"})
    joined = "\n".join(report.problems)
    assert "schema" in joined  # split must be train or test
    text = text.replace("split: dev", "split: test")
    report = checker.check_text(text, crawl_names, set(), narrative=True,
                                other_questions={"con toi sinh thang truoc. lam khai sinh o dau?"})
    joined = "\n".join(report.problems)
    assert "#2 'Ba toi 61 tuoi. Lam luong huu the nao?': no split" in joined
    assert "also in the other evaluation set" in joined
    assert f"need at least {checker.MIN_NARRATIVE_QUESTIONS}" in joined
    assert report.by_split == {"train": 1, "test": 1}


@needs_crawl
def test_handbook_codes_count_as_raw_data(crawl_names: dict[str, str]) -> None:
    handbook = checker.load_handbook_codes(DATA_DIR)
    assert "1.014027" in handbook and "1.014027" not in crawl_names  # trợ cấp hưu trí xã hội
    entry = '- {q: "ong toi 76 tuoi xin tro cap huu tri xa hoi", codes: ["1.014027"]}'
    assert any("1.014027 is not in the raw data" in p for p in _problems(_set(entry), crawl_names))
    assert not any("1.014027" in p for p in checker.check_text(_set(entry), crawl_names, set(),
                                                                handbook_codes=handbook).problems)


@needs_crawl
def test_citizen_train_set_passes_every_check() -> None:
    report = checker.check_file(checker.CITIZEN_TRAIN, train_only=True)
    assert report.ok, report.summary()
    assert report.total >= checker.MIN_TRAIN_ONLY_QUESTIONS
    assert report.out_of_scope >= checker.MIN_TRAIN_ONLY_OUT_OF_SCOPE
    assert report.without_diacritics * 2 >= report.total
    assert not report.by_split
    assert "?" not in report.by_topic


@needs_crawl
def test_train_only_rules(crawl_names: dict[str, str]) -> None:
    text = _set(
        '- {q: "lam ho chieu o dau", codes: ["1.001456"], split: train}',
        '- {q: "Đăng ký  kết hôn", codes: ["1.000894"]}',
        '- {q: "tach ho khau", codes: ["1.010038"]}',
    )
    report = checker.check_text(text, crawl_names, set(), other_questions={"đăng ký kết hôn"},
                                train_only=True)
    joined = "\n".join(report.problems)
    assert "#1 'lam ho chieu o dau': a train-only set has no split column" in joined
    assert "#2 'Đăng ký  kết hôn': also in the other evaluation set" in joined
    assert "#3" not in joined
    assert f"need at least {checker.MIN_TRAIN_ONLY_QUESTIONS}" in joined
    assert f"need at least {checker.MIN_TRAIN_ONLY_OUT_OF_SCOPE}" in joined
    # the same lines in an ordinary set: a split is allowed there
    assert "no split column" not in "\n".join(_problems(text, crawl_names))


@needs_crawl
def test_train_only_file_may_not_repeat_either_eval_set(tmp_path: Path) -> None:
    short = checker.load_questions_text(checker.DEFAULT_QUESTIONS)
    narrative = checker.load_questions_text(checker.NARRATIVE_QUESTIONS)
    one_each = [next(iter(sorted(short))), next(iter(sorted(narrative)))]
    path = tmp_path / "citizen_train.yaml"
    path.write_text(_set(*(f'- {{q: "{q}", codes: []}}' for q in one_each)), encoding="utf-8")
    report = checker.check_file(path, train_only=True)
    copies = [problem for problem in report.problems if "also in the other evaluation set" in problem]
    assert len(copies) == 2, report.summary()


def test_train_only_line_may_not_paraphrase_a_test_line(crawl_names: dict[str, str]) -> None:
    test_lines = [checker.question_words("Trả hết nợ ngân hàng rồi, xóa đăng ký thế chấp sổ đỏ ở đâu")]
    text = _set(
        '- {q: "tra het no ngan hang roi, xoa dang ky the chap tren so do", codes: ["1.003223"]}',
        '- {q: "vay ngan hang mua nha can giay to gi o xa", codes: []}',
    )
    report = checker.check_text(text, crawl_names, set(), train_only=True, test_lines=test_lines)
    joined = "\n".join(report.problems)
    assert "#1 'tra het no ngan hang roi" in joined and "a paraphrase of a test line" in joined
    assert "#2" not in joined


def test_committed_train_only_lines_are_far_from_every_test_line() -> None:
    tests = checker.load_test_lines()
    assert len(tests) > 300
    lines = checker.load_questions_text(checker.CITIZEN_TRAIN)
    closest = max(checker.closest_test_line(checker.question_words(q), tests) for q in lines)
    assert closest < checker.MAX_TEST_OVERLAP


@needs_crawl
def test_search_aliases_do_not_grow_nearer_the_test_lines() -> None:
    found = checker.aliases_nearer_test()
    assert len(found) <= checker.MAX_ALIASES_NEARER_TEST, found


@needs_crawl
def test_an_alias_copied_from_a_test_line_is_caught(tmp_path: Path) -> None:
    from knowledge.evalsets import load_questions

    test_line = next(q.q for q in load_questions(checker.DEFAULT_QUESTIONS) if q.split == "test" and q.codes)
    path = tmp_path / "aliases.yaml"
    path.write_text(checker.SEARCH_ALIASES.read_text(encoding="utf-8")
                    + f'  "9.999999":\n    - "{test_line.upper()}"\n', encoding="utf-8")
    found = checker.aliases_nearer_test(path)
    assert ("9.999999", test_line.upper(), 1.0) in found
    assert len(found) == len(checker.aliases_nearer_test()) + 1
