"""Validate the project's search evaluation sets (eval/questions.yaml, eval/narrative_questions.yaml).

Checks the schema (same as the shared dev set), that every code exists in the raw data, that every name
regex compiles (and, when it stands alone, does not silently match a raw procedure), the share of
questions typed without diacritics, the out-of-scope count, duplicates and copies of dev-set lines.
The narrative set also needs a `split` (train/test) on every line, both splits filled, and no line
shared with the short set. The train-only citizen set (`--train-only`, eval/citizen_train.yaml) has no
`split` (every line trains) and may repeat no line of either eval set.

Usage: python eval/check_questions.py [--narrative | --train-only] [PATH]   (exit 1 on a problem)
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

EVAL_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = EVAL_DIR.parent
DEFAULT_QUESTIONS = EVAL_DIR / "questions.yaml"
NARRATIVE_QUESTIONS = EVAL_DIR / "narrative_questions.yaml"
CITIZEN_TRAIN = EVAL_DIR / "citizen_train.yaml"

MIN_QUESTIONS = 320
MIN_OUT_OF_SCOPE = 40
MIN_SHARE_WITHOUT_DIACRITICS = 0.5
MIN_NARRATIVE_QUESTIONS = 200
MIN_NARRATIVE_OUT_OF_SCOPE = 20
MIN_NARRATIVE_TEST = 80
MIN_TRAIN_ONLY_QUESTIONS = 400
MIN_TRAIN_ONLY_OUT_OF_SCOPE = 40
# A train-only line whose words overlap a test line's this much (Jaccard, unaccented) is a paraphrase of
# it, and training on it would leak the test split. The organic train split of questions.yaml has 8 of
# 330 lines at or over 0.45 against its test split; a written set should have none.
MAX_TEST_OVERLAP = 0.45
# Search aliases (knowledge/search_aliases.yaml) closer to a test line than to any train or dev line, at
# or over MAX_TEST_OVERLAP: 27 of the first 299 aliases are, written before this check existed. The
# count may only go down; an alias written from a test line would raise it.
SEARCH_ALIASES = PROJECT_ROOT / "knowledge" / "search_aliases.yaml"
MAX_ALIASES_NEARER_TEST = 27
CODE_PATTERN = re.compile(r"^\d\.\d{6}$")
TOPIC_PATTERN = re.compile(r"^\s*#\s*topic:\s*(?P<topic>\S.*?)\s*$")
ENTRY_PATTERN = re.compile(r"^\s*-\s*\{")


def shared_dir() -> Path:
    value = os.environ.get("TTHC_SHARED_DIR")
    return Path(value).expanduser().resolve() if value else PROJECT_ROOT.parent / "shared"


class EvalQuestion(BaseModel):
    """One line of the set: codes and names are any-of; neither means out of scope."""

    model_config = ConfigDict(extra="forbid", strict=True)

    q: str
    codes: list[str] = []
    names: list[str] = []
    split: Literal["train", "test"] | None = None

    @field_validator("q")
    @classmethod
    def question_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty question")
        if value != value.strip():
            raise ValueError("question has leading or trailing spaces")
        return value

    @property
    def out_of_scope(self) -> bool:
        return not self.codes and not self.names


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    questions: list[EvalQuestion]


@dataclass
class Report:
    total: int = 0
    without_diacritics: int = 0
    out_of_scope: int = 0
    names_only: int = 0
    by_split: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [
            f"questions: {self.total}",
            f"without diacritics: {self.without_diacritics} "
            f"({self.without_diacritics / max(self.total, 1):.0%})",
            f"with diacritics: {self.total - self.without_diacritics}",
            f"out of scope: {self.out_of_scope}",
            f"matched by name only (not in crawl): {self.names_only}",
            *([f"split: {dict(sorted(self.by_split.items()))}"] if self.by_split else []),
            "by topic:",
            *(f"  {topic}: {count}" for topic, count in sorted(self.by_topic.items())),
        ]
        if self.problems:
            lines.append(f"PROBLEMS ({len(self.problems)}):")
            lines.extend(f"  - {problem}" for problem in self.problems)
        else:
            lines.append("OK")
        return "\n".join(lines)


def has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese tone or vowel mark, or the letter đ."""
    if "đ" in text.lower():
        return True
    decomposed = unicodedata.normalize("NFD", text)
    return any(unicodedata.combining(char) for char in decomposed)


def normalise_question(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def question_words(text: str) -> frozenset[str]:
    """The unaccented words of a question, for the paraphrase check (the search's own normaliser)."""
    from knowledge.normalize import strip_accents, words

    return frozenset(words(strip_accents(text.lower())))


def closest_test_line(words: frozenset[str], test_lines: list[frozenset[str]]) -> float:
    """The largest word overlap (Jaccard) of a question with any test line."""
    overlaps = (len(words & other) / len(words | other) for other in test_lines if words | other)
    return max(overlaps, default=0.0)


def load_crawl_names(data_dir: Path) -> dict[str, str]:
    """Map every crawled procedure code to its lower-cased name (both crawls)."""
    names: dict[str, str] = {}
    for path in sorted((data_dir / "procedures-dvcqg" / "raw").glob("*/*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        names[path.stem] = " ".join(str(record.get("ten_thu_tuc", "")).split()).lower()
    for path in sorted((data_dir / "procedures-bqp" / "raw").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        metadata = record.get("metadata") or {}
        names[path.stem] = " ".join(str(metadata.get("tên_thủ_tục", "")).split()).lower()
    return names


def load_handbook_codes(data_dir: Path) -> set[str]:
    """Codes of the Vĩnh Bảo handbook (procedures-vinhbao), which the catalogue also imports."""
    handbook = data_dir / "procedures-vinhbao" / "raw" / "procedures.json"
    if not handbook.is_file():
        return set()
    records = json.loads(handbook.read_text(encoding="utf-8"))
    return {str(record.get("code", "")).strip() for record in records}


def topics_by_entry(text: str) -> list[str | None]:
    """The `# topic:` comment in force for each list entry, in file order."""
    topics: list[str | None] = []
    current: str | None = None
    for line in text.splitlines():
        match = TOPIC_PATTERN.match(line)
        if match:
            current = match.group("topic")
        elif ENTRY_PATTERN.match(line):
            topics.append(current)
    return topics


def load_dev_questions(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {normalise_question(item["q"]) for item in data.get("questions", []) if "q" in item}


def check_text(text: str, crawl_names: dict[str, str], dev_questions: set[str],
               narrative: bool = False, other_questions: set[str] | None = None,
               handbook_codes: set[str] | None = None, train_only: bool = False,
               test_lines: list[frozenset[str]] | None = None) -> Report:
    """Check one set. `narrative`: the narrative set's rules (split on every line, its own minimums);
    `train_only`: the citizen training set's (no split, its own minimums);
    `other_questions`: normalised lines of the other set(s), which may not be repeated here;
    `handbook_codes`: codes outside the crawls that still exist in the raw data;
    `test_lines`: words of the eval sets' test lines, which a train-only line may not paraphrase."""
    report = Report()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        report.problems.append(f"not valid YAML: {error}")
        return report
    if not isinstance(raw, dict):
        report.problems.append("top level must be a mapping with a `questions:` list")
        return report
    try:
        eval_set = EvalSet.model_validate(raw)
    except ValidationError as error:
        report.problems.append(f"schema: {error}")
        return report

    questions = eval_set.questions
    topics = topics_by_entry(text)
    if len(topics) != len(questions):
        report.problems.append(
            f"found {len(topics)} one-line `- {{...}}` entries but {len(questions)} questions: "
            "write each question on one line"
        )
        topics = [None] * len(questions)

    seen: dict[str, int] = {}
    for index, (item, topic) in enumerate(zip(questions, topics, strict=True), start=1):
        where = f"#{index} {item.q!r}"
        report.total += 1
        if topic is None:
            report.problems.append(f"{where}: no `# topic:` comment above it")
        report.by_topic[topic or "?"] += 1
        if not has_diacritics(item.q):
            report.without_diacritics += 1
        if item.out_of_scope:
            report.out_of_scope += 1
        elif not item.codes:
            report.names_only += 1

        key = normalise_question(item.q)
        if key in seen:
            report.problems.append(f"{where}: duplicate of #{seen[key]}")
        seen.setdefault(key, index)
        if key in dev_questions:
            report.problems.append(f"{where}: copied from the shared dev set")
        if other_questions and key in other_questions:
            report.problems.append(f"{where}: also in the other evaluation set")
        if test_lines and closest_test_line(question_words(item.q), test_lines) >= MAX_TEST_OVERLAP:
            # training on a paraphrase of a test line would leak the test split
            report.problems.append(f"{where}: a paraphrase of a test line (overlap ≥ {MAX_TEST_OVERLAP:g})")
        if item.split and train_only:
            report.problems.append(f"{where}: a train-only set has no split column")
        elif item.split:
            report.by_split[item.split] += 1
        elif narrative:
            report.problems.append(f"{where}: no split (train or test)")

        if len(set(item.codes)) != len(item.codes):
            report.problems.append(f"{where}: repeated code")
        for code in item.codes:
            if not CODE_PATTERN.match(code):
                report.problems.append(f"{where}: malformed code {code!r}")
            elif code not in crawl_names and code not in (handbook_codes or ()):
                report.problems.append(f"{where}: code {code} is not in the raw data")
        for pattern in item.names:
            try:
                regex = re.compile(pattern)
            except re.error as error:
                report.problems.append(f"{where}: bad names regex {pattern!r}: {error}")
                continue
            if not item.codes:
                clashes = sorted(code for code, name in crawl_names.items() if regex.search(name))
                if clashes:
                    report.problems.append(
                        f"{where}: names regex {pattern!r} also matches crawled procedures "
                        f"{', '.join(clashes[:5])}; list the right code or narrow the regex"
                    )

    minimum, minimum_oos = (MIN_QUESTIONS, MIN_OUT_OF_SCOPE)
    if narrative:
        minimum, minimum_oos = (MIN_NARRATIVE_QUESTIONS, MIN_NARRATIVE_OUT_OF_SCOPE)
    elif train_only:
        minimum, minimum_oos = (MIN_TRAIN_ONLY_QUESTIONS, MIN_TRAIN_ONLY_OUT_OF_SCOPE)
    if report.total < minimum:
        report.problems.append(f"only {report.total} questions, need at least {minimum}")
    if report.out_of_scope < minimum_oos:
        report.problems.append(
            f"only {report.out_of_scope} out-of-scope questions, need at least {minimum_oos}"
        )
    if narrative and report.by_split["test"] < MIN_NARRATIVE_TEST:
        report.problems.append(f"only {report.by_split['test']} test questions, need {MIN_NARRATIVE_TEST}")
    if narrative and not report.by_split["train"]:
        report.problems.append("no train questions")
    if report.total and report.without_diacritics / report.total < MIN_SHARE_WITHOUT_DIACRITICS:
        report.problems.append(
            f"only {report.without_diacritics}/{report.total} questions without diacritics, "
            f"need at least {MIN_SHARE_WITHOUT_DIACRITICS:.0%}"
        )
    return report


def load_questions_text(path: Path) -> set[str]:
    """Normalised questions of a set (empty when it cannot be read): for the cross-set check."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return set()
    return {normalise_question(str(item["q"])) for item in data.get("questions", []) if "q" in item}


def load_test_lines() -> list[frozenset[str]]:
    """Words of the test-split lines of both eval sets (knowledge.evalsets decides the split)."""
    from knowledge.evalsets import load_questions

    return [question_words(q.q) for path in (DEFAULT_QUESTIONS, NARRATIVE_QUESTIONS) if path.is_file()
            for q in load_questions(path) if q.split == "test"]


def load_train_lines(root: Path) -> list[frozenset[str]]:
    """Words of every line the project may learn from: the train splits, the train-only lines, dev."""
    from knowledge.evalsets import citizen_train_questions, load_questions

    lines = [question_words(q.q) for path in (DEFAULT_QUESTIONS, NARRATIVE_QUESTIONS) if path.is_file()
             for q in load_questions(path) if q.split == "train"]
    lines += [question_words(q.q) for q in citizen_train_questions()]
    return lines + [question_words(q) for q in load_dev_questions(root / "eval" / "dev_questions.yaml")]


def aliases_nearer_test(path: Path = SEARCH_ALIASES, data_root: Path | None = None
                        ) -> list[tuple[str, str, float]]:
    """(code, alias, overlap) of the aliases closer to a test line than to any line the project may
    learn from, at or over MAX_TEST_OVERLAP: the trace of an alias written from a test line."""
    records = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("records") or {}
    test_lines, train_lines = load_test_lines(), load_train_lines(data_root or shared_dir())
    found = []
    for code, aliases in records.items():
        for alias in aliases or []:
            words = question_words(str(alias))
            overlap = closest_test_line(words, test_lines)
            if overlap >= MAX_TEST_OVERLAP and overlap > closest_test_line(words, train_lines):
                found.append((str(code), str(alias), round(overlap, 2)))
    return found


def check_file(
    path: Path = DEFAULT_QUESTIONS, data_root: Path | None = None, narrative: bool = False,
    train_only: bool = False,
) -> Report:
    root = data_root or shared_dir()
    crawl_names = load_crawl_names(root / "data")
    if not crawl_names:
        report = Report()
        report.problems.append(f"no crawled procedures found under {root / 'data'}")
        return report
    dev_questions = load_dev_questions(root / "eval" / "dev_questions.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        report = Report()
        report.problems.append(f"cannot read {path}: {error}")
        return report
    test_lines = None
    if train_only:
        other = load_questions_text(DEFAULT_QUESTIONS) | load_questions_text(NARRATIVE_QUESTIONS)
        test_lines = load_test_lines()
    else:
        other = load_questions_text(DEFAULT_QUESTIONS if narrative else NARRATIVE_QUESTIONS)
    return check_text(text, crawl_names, dev_questions, narrative=narrative, other_questions=other,
                      handbook_codes=load_handbook_codes(root / "data"), train_only=train_only,
                      test_lines=test_lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--aliases" in args:
        found = aliases_nearer_test()
        for code, alias, overlap in found:
            print(f"{code} {alias!r}: {overlap} against a test line")
        limit = MAX_ALIASES_NEARER_TEST
        print(f"{len(found)} aliases nearer a test line than any train line (at most {limit})")
        return 0 if len(found) <= MAX_ALIASES_NEARER_TEST else 1
    narrative, train_only = "--narrative" in args, "--train-only" in args
    args = [arg for arg in args if arg not in ("--narrative", "--train-only")]
    default = NARRATIVE_QUESTIONS if narrative else CITIZEN_TRAIN if train_only else DEFAULT_QUESTIONS
    path = Path(args[0]) if args else default
    report = check_file(path, narrative=narrative, train_only=train_only)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
