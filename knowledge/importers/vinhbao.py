"""Importer for the Vĩnh Bảo service-centre handbook: procedures-vinhbao/raw/procedures.json.

The handbook's text was extracted from PDFs, so before anything is parsed three defects are repaired:
- misplaced tone marks: in decomposed text a tone mark sits after the wrong letter or after a space
  ("hoăc̣ Ứ ng duṇ g" for "hoặc Ứng dụng"); each syllable gets its mark back on the right vowel and the
  split syllables are joined;
- hard line breaks inside sentences and even inside words ("hàn" / "h chính");
- column-wrapped tables: each row's cells are wrapped over several lines and interleaved column by
  column, so a count ("1 bản chính"), a form file ("Mus1a.docx") or a time ("10 ngày làm" / "việc")
  lands in the middle of a document name, a description or a legal title.
The handbook is a commune centre's (post-reform), so every record is commune level. Its `online` link
is a portal search for the name; where a crawl has the same code, the catalogue keeps the crawl's
record and its own source link (see knowledge.catalogue).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from knowledge.importers.common import ImportedRecord, finish_record
from knowledge.importers.fees import FeeCell, build_fees
from knowledge.importers.tables import CHANNEL_NAMES, TIME_WITH_UNIT, time_limit
from knowledge.importers.text import form_code, one_line, parse_number
from knowledge.schema import (
    Channel,
    ChannelKind,
    Document,
    DocumentCase,
    LegalRef,
    OnlineService,
    Procedure,
    Source,
)

HANDBOOK = "Sổ tay điện tử hướng dẫn TTHC – Trung tâm Phục vụ hành chính công xã Vĩnh Bảo (Hải Phòng)"
LEVEL = "Cấp xã"

# --- tone marks -------------------------------------------------------------------------------------

TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền, sắc, ngã, hỏi, nặng
_SYLLABLE = re.compile(r"[^\W\d_][^\W\d_\u0300-\u036f]*(?:[\u0300-\u036f][^\W\d_]*)*|[\u0300-\u036f]+")
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\ufeff]")  # left by the extraction
_CONSONANT_ONLY = re.compile(r"^(?:ng|nh|ch|th|ph|tr|gh|kh|gi|qu|[bcdđghklmnpqrstvx])$")


def _base_letters(syllable_nfd: str) -> tuple[list[str], str | None]:
    """The syllable's letters (each with its vowel marks, without the tone) and its tone mark."""
    letters: list[str] = []
    tone = None
    for char in syllable_nfd:
        if char in TONES:
            tone = char
        elif unicodedata.combining(char) and letters:
            letters[-1] += char
        elif not unicodedata.combining(char):
            letters.append(char)
    return letters, tone


def _tone_position(letters: list[str]) -> int | None:
    """Index of the letter that carries the tone, by the usual spelling rule (hòa, thủy, người)."""
    plain = [unicodedata.normalize("NFC", letter).lower() for letter in letters]
    vowels = [i for i, letter in enumerate(plain) if unicodedata.normalize("NFD", letter)[0] in "aeiouy"]
    if not vowels:
        return None
    # "gi" and "qu" open the syllable: their i/u is not the syllable's vowel when another follows.
    if len(vowels) > 1 and plain[0] in ("g", "q") and vowels[0] == 1 and plain[1] in ("i", "u"):
        vowels = vowels[1:]
    for i in vowels:  # a vowel with its own mark (ă â ê ô ơ ư) takes the tone; ươ takes it on ơ
        if plain[i] in "ăâêôơư":
            if plain[i] == "ư" and i + 1 in vowels and plain[i + 1] == "ơ":
                return i + 1
            return i
    if len(vowels) == 1:
        return vowels[0]
    ends_open = vowels[-1] == len(plain) - 1
    if len(vowels) == 3 or not ends_open:
        return vowels[1] if len(vowels) == 3 else vowels[-1]
    return vowels[0] if "".join(plain[i] for i in vowels) not in ("oa", "oe", "uy") else vowels[-1]


def _acceptable(letters: list[str], index: int) -> bool:
    """Is the tone already where a writer could put it? Both hòa and hoà are in use."""
    rule = _tone_position(letters)
    if rule is None or index == rule:
        return True
    plain = "".join(unicodedata.normalize("NFC", letter).lower() for letter in letters)
    return any(pair in plain for pair in ("oa", "oe", "uy")) and abs(index - rule) == 1


def _repair_syllable(syllable_nfd: str) -> str:
    letters, tone = _base_letters(syllable_nfd)
    if tone is None:
        return syllable_nfd
    where = next((i for i, char in enumerate(_letters_with_tone(syllable_nfd)) if tone in char), None)
    if where is not None and where < len(letters) and _acceptable(letters, where):
        return syllable_nfd
    position = _tone_position(letters)
    if position is None:
        return syllable_nfd
    letters[position] += tone
    return "".join(letters)


def _letters_with_tone(syllable_nfd: str) -> list[str]:
    letters: list[str] = []
    for char in syllable_nfd:
        if unicodedata.combining(char) and letters:
            letters[-1] += char
        elif not unicodedata.combining(char):
            letters.append(char)
    return letters


def repair_tone_marks(text: str) -> str:
    """NFC text with every tone mark on its syllable's vowel, and syllables split by the PDF joined."""
    decomposed = unicodedata.normalize("NFD", _INVISIBLE.sub(" ", text))
    if not any(char in TONES for char in decomposed):
        return unicodedata.normalize("NFC", decomposed)
    lines = []
    for line in decomposed.split("\n"):
        garbled = bool(re.search(r" [\u0300-\u036f]", line)) or _has_misplaced_tone(line)
        # "Hô ̣tic̣h": the mark after the space belongs to the syllable before it ("Hộ tịch").
        line = re.sub(r" +([\u0300-\u036f]+) *", r"\1 ", line)
        line = _SYLLABLE.sub(lambda m: _repair_syllable(m.group(0)), line)
        if garbled:
            line = _join_fragments(line)
        lines.append(line)
    return unicodedata.normalize("NFC", "\n".join(lines))


def _has_misplaced_tone(line: str) -> bool:
    for match in _SYLLABLE.finditer(line):
        syllable = match.group(0)
        letters, tone = _base_letters(syllable)
        if tone is None:
            continue
        where = next((i for i, char in enumerate(_letters_with_tone(syllable)) if tone in char), None)
        if where is None or not _acceptable(letters, where):
            return True
    return False


def _starts_with_vowel(token: str) -> bool:
    return bool(token) and unicodedata.normalize("NFD", token)[0].lower() in "aeiouy"


def _join_fragments(line: str) -> str:
    """In a line the PDF garbled, syllables it split are joined: a final consonant cut off ("dụn g",
    "địn h", "Ứ ng") or an initial consonant left alone ("c ó", "k ý")."""
    tokens = line.split(" ")
    joined: list[str] = []
    for token in tokens:
        bare = unicodedata.normalize("NFC", token).lower()
        previous = unicodedata.normalize("NFC", joined[-1]).lower() if joined else ""
        final_cut = (bare in ("g", "h") and previous.endswith(("n", "c"))) or (
            bare in ("ng", "nh", "ch") and previous[-1:].isalpha() and _starts_with_vowel(previous[-1]))
        initial_cut = len(previous) == 1 and previous in "bcdđghklmnpqrstvx" and _starts_with_vowel(token)
        if final_cut or initial_cut:
            joined[-1] += token
        else:
            joined.append(token)
    return " ".join(joined)


# --- hard line breaks -------------------------------------------------------------------------------


def _glued(previous: str, following: str) -> bool:
    """A line break inside a word: 'hàn' / 'h chính', 'quốc gia v' / 'ề dân cư', '20/2021/' / 'NĐ-CP'."""
    if not previous or not following:
        return False
    last = previous.split()[-1]
    first = following.split()[0]
    if previous.endswith(("/", "-")) or following.startswith("/"):
        return True
    last_bare = unicodedata.normalize("NFC", last).lower()
    first_bare = unicodedata.normalize("NFC", first).lower()
    if len(last_bare) == 1 and _CONSONANT_ONLY.match(last_bare) and _starts_with_vowel(first_bare):
        return True
    return bool(_CONSONANT_ONLY.match(first_bare)) and first_bare not in ("đ",) and last_bare[-1].isalpha()


def join_lines(lines: list[str]) -> str:
    """One paragraph from hard-wrapped lines."""
    text = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if not text:
            text = line
        elif _glued(text, line):
            text += line
        else:
            text += " " + line
    return re.sub(r" {2,}", " ", text)


def paragraphs(raw: str | None) -> str:
    """Text with its hard line breaks removed; a new paragraph only at a bullet or a step."""
    lines = repair_tone_marks(raw or "").replace("\r", "").split("\n")
    blocks: list[list[str]] = []
    for line in lines:
        if not blocks or re.match(r"\s*(?:[-+•]\s|Bước\s*\d|Trường hợp\s*\d|\d{1,2}[.)]\s)", line):
            blocks.append([])
        blocks[-1].append(line)
    texts = (re.sub(r"^[-+•]\s+(?=Bước)", "", join_lines(block)) for block in blocks)
    return "\n".join(text for text in texts if text.strip(" -+•.;"))


# --- channels (methods) -----------------------------------------------------------------------------

_CHANNEL_ROW = re.compile(
    r"^(?P<channel>Trực tiếp|Trực tuyến|Qua bưu điện|Dịch vụ bưu chính)\s+"
    r"(?P<time>\d+(?:[.,]\d+)?\s*(?:ngày làm việc|ngày làm|ngày|giờ làm việc|giờ làm|giờ|tháng)"
    r"|Không xác định)\s+"
    r"(?P<fee>Miễn phí|Không thu phí|(?P<amount>\d[\d.,]*)\s*(?:VNĐ|đồng|Đồng))\s*(?P<rest>.*)$"
)
_HANDBOOK_CHANNELS = {"Qua bưu điện": ChannelKind.buu_chinh, **CHANNEL_NAMES}


def _dedupe_sentences(text: str) -> str:
    """The handbook repeats a description once per case ('X., X., X.'): keep each sentence once."""
    parts = [part.strip(" ,.") for part in re.split(r"\.,\s*|\.\s+(?=[A-ZĐ0-9])", text)]
    kept = list(dict.fromkeys(part for part in parts if part))
    return ". ".join(kept) + ("." if kept else "")


def _split_place_and_time(description: str) -> tuple[str | None, list[str]]:
    """The 'Mô tả' cell often states the time limit again, per case ('10 ngày làm việc đối với …,
    15 ngày làm việc đối với …'): its sentences that state a time leave the place, each case once."""
    sentences = re.split(r"(?<=\.)\s+", description)
    place = " ".join(s for s in sentences if not TIME_WITH_UNIT.search(s)) or None
    cases = [
        case.strip(" .,;")
        for sentence in sentences
        if TIME_WITH_UNIT.search(sentence)
        for case in re.split(r",\s*(?=\d)", sentence)
    ]
    return place, list(dict.fromkeys(case for case in cases if case))


def parse_channels(raw: str | None, province_set: bool) -> tuple[list[Channel], list[str]]:
    """Rows of 'Hình thức nộp | Thời hạn giải quyết | Phí, lệ phí | Mô tả', each wrapped over lines."""
    lines = [line.strip() for line in repair_tone_marks(raw or "").replace("\r", "").split("\n")]
    rows: list[tuple[re.Match[str], list[str]]] = []
    for line in lines:
        match = _CHANNEL_ROW.match(line)
        if match:
            rows.append((match, [match["rest"]]))
        elif rows and line:
            rows[-1][1].append(line)
    if not rows:
        return [], ["no channel rows"]
    problems: list[str] = []
    channels: dict[ChannelKind, Channel] = {}
    for match, cells in rows:
        kind = _HANDBOOK_CHANNELS[match["channel"]]
        time_text = match["time"]
        if time_text.endswith("làm") and len(cells) > 1 and cells[1].startswith("việc"):
            time_text += " việc"  # the time cell wrapped: "10 ngày làm" / "việc"
            cells[1] = cells[1][len("việc"):].strip()
            problems.append(f"repaired: {kind.label}: time cell wrapped onto the next line")
        limit = time_limit(None if time_text == "Không xác định" else time_text)
        description = _dedupe_sentences(join_lines(cells)) if join_lines(cells) else None
        if match["amount"]:
            value = parse_number(match["amount"])
            cell = FeeCell(int(value), raw=match["fee"])
        else:
            cell = FeeCell(free=True, raw=match["fee"])
        fees, fee_problems = build_fees(cell, description, kind, province_set)
        problems.extend(f"{kind.label}: {p}" for p in fee_problems)
        if description:
            description, cases = _split_place_and_time(description)
            figures = {TIME_WITH_UNIT.search(case).group(0) for case in cases}  # type: ignore[union-attr]
            if len(figures) > 1:
                limit = limit.model_copy(update={"by_case": cases})
        if kind in channels:  # a second row for the same channel: another case's time limit
            first = channels[kind]
            if first.time_limit and limit.value is not None and limit.text() != first.time_limit.text():
                note = f"{first.time_limit.text()} hoặc {limit.text()} tùy trường hợp"
                channels[kind] = first.model_copy(
                    update={"time_limit": first.time_limit.model_copy(update={"note": note})}
                )
            continue
        channels[kind] = Channel(kind=kind, time_limit=limit, fees=fees, description=description)
        if limit.value is None:
            problems.append(f"{kind.label}: no time limit in the source")
    order = (ChannelKind.truc_tiep, ChannelKind.truc_tuyen, ChannelKind.buu_chinh)
    return [channels[k] for k in order if k in channels], problems


# --- documents ------------------------------------------------------------------------------------

DOCUMENT_HEADER = "Tên giấy tờ Mẫu đơn, tờ khai Số lượng"
_COUNT_CELL = re.compile(r"\s(?P<count>(?P<originals>\d+) bản chính(?:, (?P<copies>\d+)(?: bản sao)?)?|"
                         r"(?P<only_copies>\d+) bản sao|Không có)$")
_FORM_FILE = re.compile(
    r"\s?(?P<file>(?:Bieu mau \d+\w?\s)?[\w.\-]+\.(?:docx?|xlsx?|pdf|do)|Bieu mau \d+\w?)(?=\s|$)",
    re.IGNORECASE,
)
_CUT_NUMBER = re.compile(r"(/[A-ZĐ]+-)\s+(?=[A-ZĐ])")
_CASE_LINE = re.compile(r"^Trường hợp\s*\d+\s*:")


def _split_form_files(text: str) -> tuple[str, list[str]]:
    files = [m["file"] for m in _FORM_FILE.finditer(text)]
    return _CUT_NUMBER.sub(r"\1", _FORM_FILE.sub("", text)).strip(), files


def parse_documents(raw: str | None) -> tuple[list[DocumentCase], list[str], list[str]]:
    """Cases ('Trường hợp 1: …') of rows 'Tên giấy tờ | Mẫu đơn, tờ khai | Số lượng'. A row starts on
    the line that ends with its count; the lines after it, up to the next count, continue its name
    (with the rest of the form file names and of the count cell taken out). Rows without a count
    ('Không có') are remarks, not papers: they are returned apart, for the editors."""
    lines = [line.strip() for line in repair_tone_marks(raw or "").replace("\r", "").split("\n")]
    cases: list[DocumentCase] = []
    problems: list[str] = []
    case_name: str | None = None
    pending_case: list[str] = []
    rows: list[dict[str, Any]] = []
    remarks: list[str] = []

    def close_case() -> None:
        documents = []
        for row in rows:
            name = join_lines(row["lines"]).lstrip("-+•* ").strip()
            if not name:
                continue
            if row["originals"] is None and row["copies"] is None:
                remarks.append(name)
                continue
            files = row["files"]
            documents.append(Document(
                name=name, form=form_code(name, " ".join(files) or None), form_file="; ".join(files) or None,
                originals=row["originals"], copies=row["copies"],
                present_only=bool(case_name and "xuất trình" in case_name.lower()),
            ))
        if documents:
            cases.append(DocumentCase(case=case_name, documents=documents))

    for line in lines:
        if not line:
            continue
        if line == DOCUMENT_HEADER:
            if pending_case:
                close_case()
                rows.clear()
                case_name = one_line(join_lines(pending_case)).rstrip(" :") if pending_case else None
                pending_case = []
            continue
        if _CASE_LINE.match(line) or (pending_case and not rows):
            pending_case.append(line)
            continue
        row = rows[-1] if rows else None
        if row and row.get("copies_wrapped") and line.endswith("bản sao"):
            row["copies_wrapped"] = False  # "1 bản chính, 1" / "bản sao": the rest of the count cell
            line = line[: -len("bản sao")].strip()
            count = None
        else:
            count = _COUNT_CELL.search(line)
        body = line[: count.start()] if count else line
        body, files = _split_form_files(body)
        if count:
            listed = count["count"] != "Không có"
            originals = int(count["originals"]) if count["originals"] else (0 if listed else None)
            copies = int(count["copies"] or count["only_copies"] or 0) if listed else None
            rows.append({"lines": [body], "files": files, "originals": originals, "copies": copies,
                         "copies_wrapped": bool(count["copies"]) and "bản sao" not in count["count"]})
            if count["copies"] and "bản sao" not in count["count"]:
                problems.append("repaired: count cell wrapped onto the next line")
        elif row:
            fragment = re.search(r"(?:^|\s)(cx?)(?=\s|$)", body)
            if row["files"] and row["files"][-1].lower().endswith(".do") and fragment:
                row["files"][-1] += fragment.group(1)  # "Mauso12_ND131_2021.do" / "cx"
                body = _CUT_NUMBER.sub(r"\1", body[: fragment.start()] + body[fragment.end():]).strip()
            row["lines"].append(body)
            row["files"].extend(files)
            if files:
                problems.append("repaired: form file name wrapped into the document name")
        else:
            pending_case.append(line)
    close_case()
    if not cases:
        problems.append("no documents found")
    return cases, problems, remarks


# --- legal basis ------------------------------------------------------------------------------------

LEGAL_HEADER = "Tên văn bản pháp lý Mã văn bản"
_LEGAL_CODE = re.compile(
    r"\s(?P<code>(?:(?:Nghị định|Thông tư|Quyết định|Nghị quyết|Luật) số\s+)?"
    r"\d{1,4}/(?:\d{4}/?)?(?:[A-ZĐa-z0-9\-]*)?)$"
)


def parse_legal_basis(raw: str | None) -> tuple[list[LegalRef], list[str]]:
    """Rows 'Tên văn bản pháp lý | Mã văn bản': a row starts on the line that ends with a number; a
    number cut at '/' or '-' continues as the last word of the next line ('131/2021/' / 'NĐ-CP')."""
    lines = [line.strip() for line in repair_tone_marks(raw or "").replace("\r", "").split("\n")]
    rows: list[dict[str, Any]] = []
    for line in lines:
        if not line or line == LEGAL_HEADER:
            continue
        match = _LEGAL_CODE.search(" " + line)
        if match and "/" in match["code"]:
            code = match["code"]
            rows.append({"title": [line[: match.start()].strip()], "code": code})
        elif rows:
            row = rows[-1]
            if row["code"].endswith(("/", "-")) and line.split():
                tail = line.split()[-1]
                row["code"] += tail
                line = line[: -len(tail)].strip()
            row["title"].append(line)
    problems: list[str] = []
    references = []
    for row in rows:
        code = re.sub(r"^(?:Nghị định|Thông tư|Quyết định|Nghị quyết|Luật) số\s+", "", row["code"])
        title = join_lines(row["title"]) or code
        references.append(LegalRef(code=code, title=title))
        if row["code"].endswith(("/", "-")):
            problems.append(f"legal number cut short: {row['code']}")
    if not references:
        problems.append("no legal basis")
    return references, problems


# --- records ----------------------------------------------------------------------------------------


def _online_level(level: str | None) -> str | None:
    text = (level or "").strip().lower()
    return text if text in ("toàn trình", "một phần") else None


def parse_record(raw: dict[str, Any]) -> ImportedRecord:
    code = str(raw.get("code") or "").strip()
    if not re.fullmatch(r"\d\.\d{6}", code):
        raise ValueError(f"handbook record {raw.get('id')!r} without a valid procedure code")
    name = one_line(repair_tone_marks(str(raw.get("name") or ""))) or code
    name = name.rstrip(".")
    field = one_line(repair_tone_marks(str(raw.get("field") or "")))
    detail = raw.get("detail") if isinstance(raw.get("detail"), dict) else {}
    problems: dict[str, list[str]] = {"channels": [], "documents": [], "legal_basis": []}
    if not detail or "note" in detail:
        problems["documents"].append("the handbook has no extracted text for this procedure")
    province_set = (field or "").lower() == "hộ tịch" or "hộ kinh doanh" in name.lower()
    channels, problems["channels"] = parse_channels(detail.get("methods"), province_set) if detail.get(
        "methods") else ([], ["no channel table"])
    documents, problems["documents"], remarks = parse_documents(detail.get("documents")) if detail.get(
        "documents") else ([], problems["documents"] or ["no document table"], [])
    legal, problems["legal_basis"] = parse_legal_basis(detail.get("legal")) if detail.get(
        "legal") else ([], ["no legal basis"])
    level = _online_level(raw.get("level"))
    procedure = Procedure(
        code=code,
        name=name,
        field=field,
        levels=[LEVEL],
        channels=channels,
        online=OnlineService(level=level, url=raw.get("online") if level else None),
        documents=documents,
        legal_basis=legal,
        source=Source(url=raw.get("online"), decision=None, origin="vinhbao"),
        editor_notes=[f"Nguồn: {HANDBOOK}, tệp {raw.get('pdf')}; văn bản trích từ PDF đã được sửa lỗi.",
                      *(f"Ghi chú trong bảng giấy tờ của sổ tay: {remark}" for remark in remarks)],
    )
    return finish_record(procedure, paragraphs(detail.get("sequence")), ministry=None, problems=problems)


def handbook_file(data_dir: Path) -> Path:
    return data_dir / "procedures-vinhbao" / "raw" / "procedures.json"


def iter_files(data_dir: Path) -> list[Path]:
    path = handbook_file(data_dir)
    return [path] if path.is_file() else []


def load_file(path: Path) -> list[ImportedRecord]:
    """Every record of the handbook; a record that cannot be read names its position."""
    try:
        raw = json.loads(path.read_bytes())  # bad UTF-8 and bad JSON are both ValueErrors
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON array of records")
    records: list[ImportedRecord] = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: record {position} is not an object")
        try:
            records.append(parse_record(item))
        except ValueError as error:
            raise ValueError(f"{path}: record {position}: {error}") from error
    return records
