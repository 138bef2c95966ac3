"""`tthc catalogue audit`: invariant checks over every record and its rendered answer card.

Each check names one way a citizen could be misled (an invented law number, a fee below 1.000 đ,
a district body after the two-level reform, a step with nothing in it, a word cut in half …) and
counts the records that break it, with examples. Checks that compare a record with its raw text
run only when the raw data is beside the project. The committed baseline
(`knowledge/data/audit_baseline.json`) holds the highest count each check may have; it only goes
down, and `make test` fails when a count rises above it. A finding that is a true exception (the
source itself is wrong or empty there, and no repair could know better) is listed with its reason in
`knowledge/data/audit_exceptions.yaml`; listed findings do not count, and a listed one the audit no
longer finds is reported as stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from pydantic import TypeAdapter, ValidationError

from knowledge.cards import channel_time, render_card, time_text
from knowledge.config import PROJECT_ROOT, Settings
from knowledge.importers import bqp, dvcqg
from knowledge.importers.tables import CHANNEL_HEADER, CHANNEL_NAMES, TIME_WITH_UNIT, split_channel_rows
from knowledge.schema import ChannelKind, Procedure

BASELINE_PATH = PROJECT_ROOT / "knowledge" / "data" / "audit_baseline.json"
EXCEPTIONS_PATH = PROJECT_ROOT / "knowledge" / "data" / "audit_exceptions.yaml"
DISTRICT_BODY = re.compile(r"\b(?:cấp huyện|huyện|quận)\b", re.IGNORECASE)
CMND = re.compile(r"chứng minh nhân dân|\bCMND\b", re.IGNORECASE)
CMND_NOTE_MARK = "01/01/2025"
LAW_KINDS = ("Luật", "Nghị định", "Thông tư", "Quyết định", "Nghị quyết", "Pháp lệnh", "Thông tư liên tịch")
BARE_TITLE = re.compile(rf"^[\s\-–:.]*(?:{'|'.join(LAW_KINDS)})(?:\s+số)?[\s\-–:.]*$", re.IGNORECASE)
GLUED_TITLE = re.compile(rf"[a-zà-ỹ](?:{'|'.join(LAW_KINDS)})\b")
BOUNDED_IN_RAW = re.compile(r"(?:áp dụng )?đến hết (?:ngày )?\d{1,2}/\d{1,2}/\d{4}", re.IGNORECASE)
TIME_IN_TEXT = re.compile(
    r"(?:trong (?:thời hạn|vòng)|thời hạn giải quyết(?: là)?:?)\s*(?:tối đa\s*)?\d+\s*(?:ngày|giờ|tháng)",
    re.IGNORECASE,
)
LONG_ASCII = re.compile(r"(?<![A-Za-zà-ỹÀ-Ỹ])[a-z]{12,}(?![A-Za-zà-ỹ])")
REMARK_CASE = re.compile(r"^(?:Lưu ý|Ghi chú|Chú ý)\b", re.IGNORECASE)
FORM_NAMED_IN_FILE = re.compile(r"(?i)(?:mẫu|mau|mus|phụ lục|phu luc|phlc)\W*(?:số|so)?\W*\d")
# A time as a figure, an honest 'không ghi' or 'chưa xác minh', or a moment the source names
# ('trước khi tàu rời cảng', 'phản hồi tự động').
TIME_STATEMENT = re.compile(
    r"\d|không|chưa xác minh|ngay|tự động|trước khi|sau khi|chậm nhất|kết thúc|hằng năm|hoàn thành", re.I
)
ELLIPSIS_MARKERS = ("… còn", "… xem", "• … và")


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    needs_raw: bool = False


CHECKS: tuple[Check, ...] = (
    Check("legal_number_not_in_raw", "a legal document number the raw text does not contain", True),
    Check("legal_title_bare", "a legal reference whose title is only 'Luật', 'Luật số' …"),
    Check("legal_title_glued", "a legal title glued to the next one ('…Việt NamLuật')"),
    Check("fee_below_1000", "a fee in đồng above 0 and below 1.000 đ"),
    Check("fee_time_bound_missed", "the raw fee text ends a rule 'đến hết ngày …'; the record has no end",
          True),
    Check("fee_printed_twice", "the card prints the same fee twice for one channel"),
    Check("fee_unclear_before_known", "the card says 'chưa rõ mức phí' beside a known amount"),
    Check("exemption_hidden", "a fee note names an exemption ('miễn … cho') the card does not show"),
    Check("channel_rows_time_lost", "one channel has rows with different time limits; a limit is lost",
          True),
    Check("no_agency", "no 'Cơ quan giải quyết', and the card does not say the source names none"),
    Check("filing_line_not_place", "the 'Cách nộp' line holds a time limit or a fee instead of a place"),
    Check("district_body", "a district-level body named as the place to go"),
    Check("step_empty", "a step with no text ('1. -')"),
    Check("step_stray_mark", "a stray '-' or '+' at the start or end of a step"),
    Check("result_code_residue", "a result still carries the table's 'Mã: …'"),
    Check("document_name_cut", "a document name cut inside a word (where the form file name started)", True),
    Check("document_file_residue", "a document name ends with a form file name"),
    Check("case_is_remark", "a remark header ('Lưu ý', 'Ghi chú') turned into a 'Trường hợp' case"),
    Check("time_in_text_missing", "the source states a time limit in its text, the record has none", True),
    Check("cmnd_without_note", "Chứng minh nhân dân listed as a paper without the note that it is invalid"),
    Check("record_text_shortened", "the record keeps a shortened text ('…') instead of the full text"),
    Check("card_cut_word", "a card line cut inside a word"),
    Check("document_or_condition_cut", "a document or condition on the card cut inside a sentence"),
    Check("form_file_without_code", "a form file named by its number ('Mẫu số 08…') without a form code"),
    Check("time_not_honest", "a channel whose card time is neither a figure nor 'không ghi'/'chưa xác minh'"),
    Check("no_source", "no source link or decision"),
)
CHECK_NAMES = tuple(check.name for check in CHECKS)


@dataclass
class AuditResult:
    records: int
    with_raw: bool
    findings: dict[str, dict[str, str]] = field(default_factory=lambda: {name: {} for name in CHECK_NAMES})
    # Findings listed in the exceptions file (check → code → reason), and listed ones not found.
    excepted: dict[str, dict[str, str]] = field(default_factory=lambda: {name: {} for name in CHECK_NAMES})
    stale: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(found) for name, found in self.findings.items()}

    def render(self, examples: int = 3) -> str:
        raw = "with" if self.with_raw else "WITHOUT (raw checks skipped)"
        lines = [f"Audit of {self.records} records, {raw} the raw data", ""]
        for check in CHECKS:
            found = self.findings[check.name]
            skipped = check.needs_raw and not self.with_raw
            count = "-" if skipped else str(len(found))
            listed = len(self.excepted[check.name])
            extra = f" (+{listed} listed as exceptions)" if listed else ""
            lines.append(f"{count:>6}  {check.name}: {check.description}{extra}")
            for code, detail in sorted(found.items())[:examples]:
                lines.append(f"          {code}: {detail}")
        for name, code in self.stale:
            lines.append(f"STALE exception: {name} {code} is listed but no longer found")
        return "\n".join(lines)


# --- Raw text -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawRecord:
    text: str  # every field of the raw record, joined
    fees: str  # the raw channel table (fee and time cells)
    times: list[tuple[ChannelKind, str]]  # (channel, time cell) per raw row


def _portal_rows(table: str) -> list[tuple[ChannelKind, str]]:
    parts = split_channel_rows((table or "").replace(CHANNEL_HEADER, "", 1))
    rows = []
    for label, body in zip(parts[1::2], parts[2::2], strict=True):
        match = TIME_WITH_UNIT.match(body)
        rows.append((CHANNEL_NAMES[label], match.group(0).lower() if match else ""))
    return rows


def load_raw(settings: Settings) -> dict[str, RawRecord]:
    """Each raw record's text by code (empty when the raw data is not beside the project)."""
    records: dict[str, RawRecord] = {}
    for path in dvcqg.iter_files(settings.data_dir):
        raw = json.loads(path.read_text(encoding="utf-8"))
        text = "\n".join(str(value) for value in raw.values() if isinstance(value, str))
        table = raw.get("cach_thuc_thuc_hien") or ""
        records.setdefault(str(raw["ma_thu_tuc"]).strip(), RawRecord(text, table, _portal_rows(table)))
    for path in bqp.iter_files(settings.data_dir):
        raw = json.loads(path.read_text(encoding="utf-8"))
        rows = raw.get("tables", {}).get("hinh_thuc_nop") or []
        times = [
            (CHANNEL_NAMES[row["hinh_thuc"].strip()], (row.get("thoi_han_giai_quyet") or "").strip().lower())
            for row in rows
            if (row.get("hinh_thuc") or "").strip() in CHANNEL_NAMES
        ]
        fees = "\n".join(str(row.get("phi_le_phi") or "") for row in rows)
        records.setdefault(path.stem, RawRecord(json.dumps(raw, ensure_ascii=False), fees, times))
    return records


def number_in_text(number: str, text: str) -> bool:
    """Whether a document number occurs in a text as itself, not as the tail of a longer glued run.

    '1451/2019/QH14' is in 'số 51/2019/QH1451/2019/QH14' only as the QH term '14' glued to the next
    number; '68/2020/QH14' after 'Cư trú 2020' or after 'QH14' is the number itself.
    """
    for match in re.finditer(re.escape(number), text):
        before = text[: match.start()]
        if re.search(r"QH1?$", before):
            continue
        if before[-1:].isdigit() and not re.search(r"(?:QH\d\d|(?<!\d)(?:19|20)\d\d)$", before):
            continue
        return True
    return False


# --- Checks ---------------------------------------------------------------------------------------

Finder = Callable[[Procedure, str, "RawRecord | None", date], Iterator[tuple[str, str]]]


def _lines(card: str, prefix: str) -> list[str]:
    return [line for line in card.splitlines() if line.startswith(prefix)]


def _fee_lines(card: str) -> list[str]:
    block = card.split("lệ phí (áp dụng ngày", 1)
    if len(block) == 1:
        block = card.split("Lệ phí (áp dụng ngày", 1)
    if len(block) == 1:
        return []
    return [line for line in block[1].split("\n\n", 1)[0].splitlines()[1:] if line.startswith("• ")]


def _texts(proc: Procedure) -> Iterator[tuple[str, str]]:
    yield "name", proc.name
    for case in proc.documents:
        if case.case:
            yield "case", case.case
        for document in case.documents:
            yield "document", document.name
            if document.condition:
                yield "condition", document.condition
    for kind, items in (("step", proc.steps), ("condition", proc.conditions), ("result", proc.result)):
        for item in items:
            yield kind, item
    for channel in proc.channels:
        for fee in channel.fees:
            if fee.note:
                yield "fee note", fee.note
        if channel.description:
            yield "channel", channel.description
        if channel.time_limit and channel.time_limit.note:
            yield "time note", channel.time_limit.note
    for ref in proc.legal_basis:
        yield "legal", ref.title


def _legal(proc: Procedure, card: str, raw: RawRecord | None, today: date) -> Iterator[tuple[str, str]]:
    # The importer writes 'NĐ- CP' as 'NĐ-CP'.
    raw_text = re.sub(r"-\s+(?=[A-ZĐ])", "-", raw.text) if raw else ""
    for ref in proc.legal_basis:
        if raw and ref.code and not number_in_text(ref.code, raw_text):
            yield "legal_number_not_in_raw", ref.code
        if BARE_TITLE.match(ref.title) or (ref.code and ref.title.strip(" –-") == ref.code):
            yield "legal_title_bare", f"{ref.code}: {ref.title!r}"
        if GLUED_TITLE.search(ref.title):
            yield "legal_title_glued", ref.title[:90]


def _channels(proc: Procedure, card: str, raw: RawRecord | None, today: date) -> Iterator[tuple[str, str]]:
    for channel in proc.channels:
        for fee in channel.fees:
            if fee.currency == "VND" and fee.amount and 0 < fee.amount < 1000:
                yield "fee_below_1000", f"{channel.kind.value}: {fee.amount} đ"
        description = channel.description or ""
        if channel.kind != ChannelKind.truc_tuyen and (
            TIME_WITH_UNIT.search(description) or re.search(r"\d\s*(?:đồng|VNĐ)", description)
        ):
            yield "filing_line_not_place", description[:90]
        shown_time = channel_time(proc, channel)
        if "xem ghi chú" in shown_time or not TIME_STATEMENT.search(shown_time):
            yield "time_not_honest", f"{channel.kind.value}: {shown_time[:80]}"
        for fee in channel.fees_in_force(today):
            exemption = re.search(r"[Mm]iễn[^.;]*?(?:cho|đối với|đối tượng|theo)[^.;]{3,}", fee.note or "")
            # 'Thông tư … quy định mức thu, miễn một số khoản phí, lệ phí nhằm hỗ trợ …' is a title.
            if exemption and "nhằm hỗ trợ" in exemption.group(0):
                continue
            if exemption and exemption.group(0)[:40].lower() not in card.lower():
                yield "exemption_hidden", exemption.group(0)[:90]
                break
    for line in _fee_lines(card):
        parts = line.split(": ", 1)[-1].split("; ")
        fee_parts = [p for p in parts if re.search(r"\d đ|Miễn phí", p)]
        if len(fee_parts) != len(set(fee_parts)):
            yield "fee_printed_twice", line[:90]
        if "chưa rõ mức phí" in line and re.search(r"\d\.\d{3} đ", line):
            yield "fee_unclear_before_known", line[:90]
    if not raw:
        return
    bounded = BOUNDED_IN_RAW.search(raw.fees)
    if bounded and not any(fee.valid_to for channel in proc.channels for fee in channel.fees):
        yield "fee_time_bound_missed", bounded.group(0)
    for kind in ChannelKind:
        times = {t for k, t in raw.times if k == kind and t}
        channel = proc.channel(kind)
        if len(times) > 1 and channel:
            shown = time_text(channel)
            numbers = {float(n.replace(",", ".")) for n in re.findall(r"\d+(?:[.,]\d+)?", shown)}
            if any(float(t.split()[0].replace(",", ".")) not in numbers for t in times):
                yield "channel_rows_time_lost", f"{kind.value}: {sorted(times)} shown {time_text(channel)!r}"
    if proc.channels and all(c.time_limit is None or c.time_limit.value is None for c in proc.channels):
        stated = TIME_IN_TEXT.search(raw.text)
        shown = " ".join(time_text(channel) for channel in proc.channels)
        if stated and not re.search(r"\d+\s*(?:ngày|giờ|tháng)", shown):
            yield "time_in_text_missing", stated.group(0)


def _place_and_steps(
    proc: Procedure, card: str, raw: RawRecord | None, today: date
) -> Iterator[tuple[str, str]]:
    if not proc.agency and "Cơ quan giải quyết: nguồn không ghi" not in card:
        yield "no_agency", "-"
    if proc.agency and DISTRICT_BODY.search(proc.agency):
        yield "district_body", proc.agency[:90]
    for place in filter(None, (c.description for c in proc.channels)):
        if DISTRICT_BODY.search(place) and "cấp huyện" not in " ".join(proc.notes):
            yield "district_body", place[:90]
    for index, step in enumerate(proc.steps, start=1):
        if not step.strip(" -+•.:;\n"):
            yield "step_empty", f"step {index}: {step!r}"
        elif re.match(r"^\s*[-+](?:\s|$)", step) or re.search(r"(?:^|\s)[-+]\s*$", step):
            yield "step_stray_mark", f"step {index}: {step[:40]!r}…{step[-20:]!r}"
    for item in proc.result:
        if re.search(r"Mã:\s*\w|\bKQ\.[A-Z]\d", item):
            yield "result_code_residue", item[:90]
    if not (proc.source.url or proc.source.decision):
        yield "no_source", "-"


def _documents(proc: Procedure, card: str, raw: RawRecord | None, today: date) -> Iterator[tuple[str, str]]:
    raw_flat = " ".join(raw.text.split()) if raw else ""
    for case in proc.documents:
        if case.case and REMARK_CASE.match(case.case) and f"Trường hợp {case.case}" in card:
            yield "case_is_remark", case.case[:90]
        for document in case.documents:
            if LONG_ASCII.search(document.name):
                yield "document_file_residue", document.name[-60:]
            if document.form_file and not document.form and FORM_NAMED_IN_FILE.search(document.form_file):
                yield "form_file_without_code", document.form_file[:90]
            if CMND.search(document.name) and CMND_NOTE_MARK not in card:
                yield "cmnd_without_note", document.name[:90]
            name = " ".join(document.name.split())
            at = raw_flat.find(name) if raw_flat else -1
            following = raw_flat[at + len(name) : at + len(name) + 1] if at >= 0 else ""
            if following.isalpha() and following.islower() and name[-1:].isalpha():
                yield "document_name_cut", f"{name[-40:]!r} + {raw_flat[at + len(name):][:12]!r}"


def _cut_text(proc: Procedure, card: str, raw: RawRecord | None, today: date) -> Iterator[tuple[str, str]]:
    for kind, text in _texts(proc):
        if text.rstrip().endswith("…"):
            yield "record_text_shortened", f"{kind}: …{text[-50:]}"
    facts = " ".join(" ".join(text.split()) for _, text in _texts(proc))
    card_lines = [" ".join(line.split()) for line in card.splitlines()]
    texts = [d.name for case in proc.documents for d in case.documents] + list(proc.conditions)
    texts += [d.condition for case in proc.documents for d in case.documents if d.condition]
    for text in (" ".join(t.split()) for t in texts):
        shown = [line for line in card_lines if text[:80] in line]
        if not shown or any(text in line for line in shown):
            continue  # shown whole, or not shown (beyond the card's list: the card links the rest)
        shown = [line for line in shown if "…" in line[line.find(text[:80]) :]]
        if not shown:
            continue  # the opening is another, longer paper's: this one is not on the card
        # Cut for display: acceptable only after a whole sentence ('… chọn thầu. …'). The cut is
        # where the line leaves the text; an '…' the source itself wrote ('Phiếu xuất kho…)') is no cut.
        kept = [_shared_start(line[line.find(text[:80]) :], text) for line in shown]
        cuts = [line[line.find(text[:80]) + len(part) :].lstrip().startswith("…") for line, part in
                zip(shown, kept, strict=True)]
        prefixes = [part.rstrip() for part, cut in zip(kept, cuts, strict=True) if cut]
        if prefixes and not any(part[-1:] in ".;" for part in prefixes):
            yield "document_or_condition_cut", text[:60] + "…"
    for line in card.splitlines():
        if "…" not in line or any(marker in line for marker in ELLIPSIS_MARKERS):
            continue
        before = line.split("…", 1)[0]
        tail = before.rstrip()[-40:]
        at = facts.find(tail) if len(tail) >= 12 else -1
        if at >= 0 and before == before.rstrip() and facts[at + len(tail) : at + len(tail) + 1].isalnum():
            yield "card_cut_word", "…" + tail


def _shared_start(shown: str, text: str) -> str:
    """The longest start the card's line and the record's text have in common."""
    size = 0
    for a, b in zip(shown, text, strict=False):
        if a != b:
            break
        size += 1
    return text[:size]


FINDERS: tuple[Finder, ...] = (_legal, _channels, _place_and_steps, _documents, _cut_text)


def audit(
    procedures: Iterable[Procedure],
    raw: dict[str, RawRecord],
    today: date,
    exceptions: dict[str, dict[str, str]] | None = None,
) -> AuditResult:
    procedures = list(procedures)
    result = AuditResult(records=len(procedures), with_raw=bool(raw))
    for proc in procedures:
        card = render_card(proc, today=today)
        # Raw-text checks compare imported records only: curated ones cite newer law on purpose.
        source = None if proc.curated else raw.get(proc.code)
        for finder in FINDERS:
            for name, detail in finder(proc, card, source, today):
                result.findings[name].setdefault(proc.code, detail)
    needs_raw = {check.name for check in CHECKS if check.needs_raw}
    for name, listed in (exceptions or {}).items():
        for code, reason in listed.items():
            if result.findings[name].pop(code, None) is not None:
                result.excepted[name][code] = reason
            elif result.with_raw or name not in needs_raw:
                result.stale.append((name, code))
    return result


# --- Exceptions -----------------------------------------------------------------------------------

_EXCEPTIONS = TypeAdapter(dict[str, dict[str, str]])


class ExceptionsError(ValueError):
    """The exceptions file is not a mapping of known checks to {code: reason}."""


def read_exceptions(path: Path = EXCEPTIONS_PATH) -> dict[str, dict[str, str]]:
    """The listed true exceptions: {check: {code: reason}}; every entry must give its reason."""
    if not path.exists():
        return {}
    try:
        listed = _EXCEPTIONS.validate_python(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as error:
        raise ExceptionsError(f"{path.name}: {error}") from None
    unknown = sorted(set(listed) - set(CHECK_NAMES))
    if unknown:
        raise ExceptionsError(f"{path.name}: unknown checks {', '.join(unknown)}")
    unexplained = [f"{name} {code}" for name, codes in listed.items() for code, why in codes.items()
                   if len(why.strip()) < 20]
    if unexplained:
        raise ExceptionsError(f"{path.name}: no reason given for {', '.join(unexplained)}")
    return listed


# --- Baseline -------------------------------------------------------------------------------------


def read_baseline(path: Path = BASELINE_PATH) -> dict[str, int]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def rises(counts: dict[str, int], baseline: dict[str, int], with_raw: bool) -> dict[str, tuple[int, int]]:
    """Checks whose count is above the baseline: {name: (count, allowed)}."""
    skipped = {check.name for check in CHECKS if check.needs_raw and not with_raw}
    return {
        name: (count, baseline.get(name, 0))
        for name, count in counts.items()
        if name not in skipped and count > baseline.get(name, 0)
    }


def write_baseline(counts: dict[str, int], path: Path = BASELINE_PATH) -> dict[str, int]:
    """Lower the baseline to today's counts; a count never goes up (raise it by editing the file)."""
    old = read_baseline(path)
    new = {name: min(count, old.get(name, count)) for name, count in counts.items()}
    path.write_text(json.dumps(new, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return new
