"""Parsers for the portal's flattened tables and free-text fields.

The national portal crawl glues each table into one string: the header, then the cells of each row
with nothing between them. These functions cut them back into rows by the shapes the cells have
(a channel name, a time limit, a money figure, a count such as "1 bản chính,1 bản sao", a document
number such as 68/2020/QH14), never by procedure code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from knowledge.importers.fees import FeeCell, build_fees, resolve_cell_figure
from knowledge.importers.text import amounts_in, clean, form_code, one_line
from knowledge.schema import Channel, ChannelKind, Document, DocumentCase, Fee, LegalRef, TimeLimit, TimeUnit

T = TypeVar("T")


@dataclass
class Parsed(Generic[T]):
    """A parse result plus the problems met, so the catalogue report can list them."""

    value: T
    problems: list[str] = field(default_factory=list)


# --- Time limits -------------------------------------------------------------------------------

_UNITS = {
    "ngày làm việc": TimeUnit.ngay_lam_viec,
    "ngày": TimeUnit.ngay,
    "giờ làm việc": TimeUnit.gio_lam_viec,
    "giờ": TimeUnit.gio,
    "tháng": TimeUnit.thang,
    "năm": TimeUnit.nam,
}
_UNIT_ALTERNATION = "|".join(sorted(_UNITS, key=len, reverse=True))
TIME_WITH_UNIT = re.compile(rf"(\d+(?:[.,]\d+)?)\s*({_UNIT_ALTERNATION})", re.IGNORECASE)


def time_limit(text: str | None) -> TimeLimit:
    """'7 Ngày làm việc' → 7 ngày làm việc; '1' → 1 ngày làm việc (inferred); '' → no figure."""
    cleaned = one_line(text)
    if not cleaned:
        return TimeLimit()
    match = TIME_WITH_UNIT.fullmatch(cleaned)
    if match:
        return TimeLimit(value=float(match.group(1).replace(",", ".")), unit=_UNITS[match.group(2).lower()])
    if re.fullmatch(r"\d+(?:[.,]\d+)?", cleaned):
        return TimeLimit(
            value=float(cleaned.replace(",", ".")), unit=TimeUnit.ngay_lam_viec, unit_inferred=True
        )
    match = TIME_WITH_UNIT.match(cleaned)
    if match:
        return TimeLimit(
            value=float(match.group(1).replace(",", ".")),
            unit=_UNITS[match.group(2).lower()],
            note=cleaned,
        )
    return TimeLimit(note=cleaned)


def time_from_text(text: str, fallback: TimeLimit) -> TimeLimit:
    """When the time column is empty, a description naming exactly one time limit supplies it."""
    found = {
        (float(match.group(1).replace(",", ".")), _UNITS[match.group(2).lower()])
        for match in TIME_WITH_UNIT.finditer(text)
    }
    if len(found) != 1:
        return fallback
    value, unit = found.pop()
    return TimeLimit(value=value, unit=unit, note=f"Theo mô tả trên cổng: {text}")


# An explicit statement of the time: 'Thời hạn giải quyết : Trong thời hạn 15 ngày, kể từ …'.
_STATED_TIME = re.compile(
    r"Thời (?:hạn|gian) giải quyết(?: là)?\s*+:?+\s*+(?![-+•:])"
    r"([^.\n]*\d[^.\n]*\.?(?:\s*Trường hợp[^.\n]*\.?)?)",
    re.IGNORECASE,
)


def stated_time(text: str | None) -> TimeLimit | None:
    """The time limit a text states in so many words ('Thời hạn giải quyết: …'), if it does."""
    match = _STATED_TIME.search(one_line(text) or "")
    if not match:
        return None
    sentence = match.group(1).strip()
    found = time_from_text(sentence, TimeLimit(note=sentence))
    return found.model_copy(update={"note": sentence})


_STAGE_TIME = re.compile(
    r"\b(?:[Tt]rong (?:thời hạn|vòng)|[Kk]hông quá|[Cc]hậm nhất|[Tt]ối đa)\s+\d+\s*"
    r"(?:ngày làm việc|ngày|giờ làm việc|giờ|tháng)\b[^.;\n]*"
)


def stage_times(text: str | None) -> list[str]:
    """The sentences of a text that give the time of one stage ('… trong thời hạn 03 ngày làm việc …')."""
    flat = one_line(text) or ""
    found = []
    for match in _STAGE_TIME.finditer(flat):
        # From the start of the sentence, or from a word at most 80 characters before the time.
        start = max(flat.rfind(".", 0, match.start()), flat.rfind(";", 0, match.start())) + 1
        if match.start() - start > 80:
            start = flat.find(" ", match.start() - 80) + 1
        found.append(flat[start : match.end()].strip(" -+*"))
    return list(dict.fromkeys(found))


# --- Channels (cach_thuc_thuc_hien) ------------------------------------------------------------

CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
_ONLINE_RULE = re.compile(r"trực tuy|điện tử|dịch vụ công", re.IGNORECASE)
CHANNEL_NAMES = {
    "Trực tiếp": ChannelKind.truc_tiep,
    "Trực tuyến": ChannelKind.truc_tuyen,
    "Dịch vụ bưu chính": ChannelKind.buu_chinh,
}
# A row starts with the channel name glued to the next cell (a digit or a capital), never a space.
_CHANNEL_NAME = re.compile(r"Trực tiếp|Trực tuyến|Dịch vụ bưu chính")


def split_channel_rows(text: str) -> list[str]:
    """[text before the first row, name, body, name, body, …] like re.split with a group."""
    parts: list[str] = []
    position = 0
    for match in _CHANNEL_NAME.finditer(text):
        following = text[match.end() : match.end() + 1]
        if not (following.isdigit() or following.isupper()):
            continue  # 'Trực tiếp nộp…' inside a description, not a new row
        parts += [text[position : match.start()], match.group(0)]
        position = match.end()
    return [*parts, text[position:]]
_FEE_CELL = re.compile(
    r"(?P<free>Miễn phí)|(?P<none>Không có thông tin)|(?P<number>\d[\d.,]*)\s?(?P<unit>Việt Nam Đồng|VNĐ)"
)
# A parenthesised case number ('(1)', '(a)', '(ii)'), not a fee description.
CASE_MARKER = re.compile(r"\s*(?:\d{1,2}|[a-zđ]|[ivx]{1,4})\s*")
CURRENCY_FIRST = re.compile(r"\s*(?:Việt Nam\s+)?[Đđ]ồng\b")
_GLUED = re.compile(r"(\d[\d.,]*)\s?(Việt Nam Đồng|VNĐ)")
_TIME_CELL = re.compile(rf"(?P<value>\d+(?:[.,]\d+)?)\s?(?P<unit>{_UNIT_ALTERNATION})", re.IGNORECASE)


def _balanced_parenthesis(text: str) -> tuple[str, str]:
    """Split '(a (b) c)rest' into ('a (b) c', 'rest'); unbalanced text is all description."""
    depth = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[1:index], text[index + 1 :]
    return text[1:], ""


def _split_time_and_fee(body: str) -> tuple[str | None, re.Match[str] | None, str, list[str]]:
    """Cut the start of a row body into (time cell, fee cell match, rest)."""
    problems: list[str] = []
    match = _TIME_CELL.match(body)
    if match:
        rest = body[match.end() :]
        return match.group(0), _FEE_CELL.match(rest), rest, problems
    if body.startswith("Không có thông tin"):
        rest = body[len("Không có thông tin") :]
        fee = _FEE_CELL.match(rest)
        if fee:
            return None, fee, rest, problems
        return None, _FEE_CELL.match(body), body, problems
    bare = re.match(r"(\d+)(?=Miễn phí|Không có thông tin|\(|$)", body)
    if bare:
        rest = body[bare.end() :]
        return bare.group(1), _FEE_CELL.match(rest), rest, problems
    glued = re.match(r"(\d[\d.,]*)\s?(Việt Nam Đồng|VNĐ)", body)
    if glued:
        return None, None, body, ["bare time limit glued to the fee figure"]
    # A free-text time cell ("Không quy định", "Không phải trả kết quả …"): up to the fee cell.
    fee = re.search(r"Miễn phí|Không có thông tin|\d[\d.,]*\s?(?:Việt Nam Đồng|VNĐ)", body)
    if fee:
        return body[: fee.start()], _FEE_CELL.match(body, fee.start()), body[fee.start() :], problems
    return None, None, body, ["no fee cell found"]


def _split_glued_time_fee(digits: str, unit: str, description: str) -> tuple[str, str] | None:
    """'110,000 Việt Nam Đồng' with a bare time: 1 + 10,000. Ambiguous splits are resolved by
    the description naming the amount; otherwise None (the data is unclear)."""
    head, _, tail = digits.partition(",")
    options = []
    for cut in range(1, len(head)):
        amount = head[cut:] + ("," + tail if tail else "")
        if re.fullmatch(r"0|[1-9]\d{0,2}(?:,\d{3})*", amount):
            options.append((head[:cut], amount))
    if len(options) == 1:
        return options[0]
    confirmed = [
        option
        for option in options
        if (cell := resolve_cell_figure(option[1], unit, description)).amount
        and str(cell.amount) in re.sub(r"[.,]", "", description)
    ]
    return confirmed[0] if len(confirmed) == 1 else None


def parse_channels(raw: str | None, province_set: bool) -> Parsed[list[Channel]]:
    problems: list[str] = []
    text = (raw or "").replace(CHANNEL_HEADER, "", 1)
    if not text.strip():
        return Parsed([], ["no channel table"])
    parts = split_channel_rows(text)
    if parts[0].strip():
        problems.append(f"text before the first channel: {parts[0][:40]!r}")
    channels: dict[ChannelKind, Channel] = {}
    cases: dict[ChannelKind, list[tuple[TimeLimit, str]]] = {}
    for label, body in zip(parts[1::2], parts[2::2], strict=True):
        kind = CHANNEL_NAMES[label]
        time_text, fee_match, rest, row_problems = _split_time_and_fee(body)
        problems.extend(row_problems)
        glued = _GLUED.match(body) if "glued" in " ".join(row_problems) else None
        description, channel_text = "", rest
        if glued:
            after = body[glued.end() :]
            description, channel_text = _balanced_parenthesis(after) if after.startswith("(") else ("", after)
            split = _split_glued_time_fee(glued.group(1), glued.group(2), description)
            if split:
                problems.remove("bare time limit glued to the fee figure")
                time_text = split[0]
                cell = resolve_cell_figure(split[1], glued.group(2), description)
            else:
                cell = FeeCell(None, raw=glued.group(0), unclear=True)
        elif fee_match:
            after = rest[fee_match.end() :]
            description, channel_text = _balanced_parenthesis(after) if after.startswith("(") else ("", after)
            if CASE_MARKER.fullmatch(description):
                # '(1) Trường hợp …' after the fee cell numbers the row's case: no fee text.
                description, channel_text = "", after
            elif fee_match["number"] and CURRENCY_FIRST.match(description):
                # '250,000 VNĐ(Đồng (Sát hạch thực hành) Phí: 400000 Đồng (…)': the text goes on from
                # the cell's figure, which is the first case's fee.
                description = f"{fee_match['number']} {description.lstrip()}"
            if fee_match["free"]:
                cell = FeeCell(free=True, raw="Miễn phí")
            elif fee_match["none"]:
                cell = FeeCell(None)
            else:
                cell = resolve_cell_figure(fee_match["number"], fee_match["unit"], description)
        else:
            cell = FeeCell(None)
        place, time_sentences, fee_sentences = sort_description(one_line(channel_text) or "")
        if fee_sentences:
            # The description column held the fee breakdown ('Bao gồm: - 1.000.000 đồng …').
            description = " ".join(filter(None, [description, *fee_sentences]))
        limit = time_limit(time_text)
        if limit.value is None and not limit.note:
            limit = stated_time(f"{channel_text} {description}") or limit
        if limit.value is None:
            described = " ".join(filter(None, [*time_sentences, place, one_line(description)]))
            limit = time_from_text(described, limit)
        if limit.value is None and not limit.note and time_sentences:
            # The column is empty but the description states the time of each stage: keep its words.
            limit = TimeLimit(by_case=[sentence.strip(" -+;") for sentence in time_sentences])
        elif time_sentences and not limit.note:
            limit = limit.model_copy(update={"note": " ".join(time_sentences)})
        if limit.value is None:
            problems.append(f"{label}: no time limit in the source")
        fees, fee_problems = build_fees(cell, description, kind, province_set)
        problems.extend(f"{label}: {problem}" for problem in fee_problems)
        row_case = " ".join(time_sentences) or place
        if kind in channels:
            # Several rows for one channel (cases with their own time limit, fees by card duration):
            # one channel with every distinct fee rule and every case's time limit.
            merge_row(channels[kind], cases[kind], limit, row_case, fees)
            continue
        cases[kind] = [(limit, row_case)]
        channels[kind] = Channel(kind=kind, time_limit=limit, fees=fees, description=place or None)
    order = [ChannelKind.truc_tiep, ChannelKind.truc_tuyen, ChannelKind.buu_chinh]
    found = [channels[kind] for kind in order if kind in channels]
    if _share_bounded_rules(found):
        problems.append("repaired: a time-bounded fee rule given for one channel applies to all")
    return Parsed(found, problems)


def sort_description(text: str) -> tuple[str, list[str], list[str]]:
    """The description column's sentences: (place, time limit sentences, fee sentences)."""
    sorted_sentences: list[tuple[str, str]] = []
    for sentence in re.split(r"(?<=[.;])\s+(?=[-+A-ZĐ" + UPPER[3:] + r"])|\s+(?=[-+]\s)", text):
        if not sentence.strip(" -+"):
            continue
        if any(currency == "VND" for _, currency, _ in amounts_in(sentence)):
            kind = "fee"
        elif TIME_WITH_UNIT.search(sentence):
            kind = "time"
        else:
            kind = "place"
        sorted_sentences.append((kind, sentence))
    # 'Bao gồm:' before a fee list belongs to the list.
    for index in range(len(sorted_sentences) - 1):
        kind, sentence = sorted_sentences[index]
        if kind == "place" and sentence.endswith(":") and sorted_sentences[index + 1][0] == "fee":
            sorted_sentences[index] = ("fee", sentence)
    place = " ".join(sentence for kind, sentence in sorted_sentences if kind == "place")
    times = [sentence for kind, sentence in sorted_sentences if kind == "time"]
    return place, times, [sentence for kind, sentence in sorted_sentences if kind == "fee"]


def _same_fee(a: Fee, b: Fee) -> bool:
    return (a.amount, a.currency, a.per, a.valid_from, a.valid_to, a.set_by_province) == (
        b.amount, b.currency, b.per, b.valid_from, b.valid_to, b.set_by_province)


def merge_row(channel: Channel, cases: list[tuple[TimeLimit, str]], limit: TimeLimit, case: str,
               fees: list[Fee]) -> None:
    channel.fees.extend(fee for fee in fees if not any(_same_fee(fee, old) for old in channel.fees))
    cases.append((limit, case))
    shown = {(c.value, c.unit) for c, _ in cases if c.value is not None}
    if len(shown) > 1 and channel.time_limit is not None:
        by_case = [_case_time(c, text) for c, text in cases if c.value is not None]
        channel.time_limit = channel.time_limit.model_copy(update={"by_case": list(dict.fromkeys(by_case))})


def _case_time(limit: TimeLimit, text: str) -> str:
    """One case's time limit: the source's sentence when it names the time, else 'N đơn vị: case'."""
    text = re.sub(r"^[-+•\s]*(?:Thời hạn giải quyết\s*:\s*)?", "", text).rstrip(" .;")
    lead = rf"^(?:Không quá|Trong (?:thời hạn|vòng)|Chậm nhất|Tối đa)?\s*{TIME_WITH_UNIT.pattern}[,:]?\s*"
    text = re.sub(lead, "", text, flags=re.IGNORECASE)
    return f"{limit.text()}: {text}" if text else limit.text()


def _share_bounded_rules(channels: list[Channel]) -> bool:
    """A reduction the source states for one channel only ('25.000đ/tem … đến hết 31/12/2026') holds
    for every channel with the same standing fee, unless it is about online filing."""
    shared = False
    for channel in channels:
        standing = {(f.amount, f.currency) for f in channel.fees if not (f.valid_from or f.valid_to)}
        if not standing or any(f.valid_from or f.valid_to for f in channel.fees):
            continue
        for other in channels:
            other_standing = {(f.amount, f.currency) for f in other.fees if not (f.valid_from or f.valid_to)}
            rules = [f for f in other.fees if f.valid_from or f.valid_to]
            rules = [f for f in rules if not _ONLINE_RULE.search(f.note or "")]
            if other is not channel and other_standing == standing and rules:
                channel.fees.extend(rule.model_copy() for rule in rules)
                shared = True
                break
    return shared


# --- Documents (thanh_phan_ho_so) --------------------------------------------------------------

DOCUMENT_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
# The count cell: one digit of originals, optionally ",N bản sao", glued to the next title.
# A full stop may end the cell when the next title starts right after it ('…1 bản chính.Đơn đề nghị').
_COUNT = re.compile(r"(\d) bản chính(?:,\s?(\d+) bản sao)?(?:[.,](?=[A-ZĐ]))?(?=$|[^\s),.;:])")
_FILE_EXT = re.compile(r"\.(?:docx?|pdf|xlsx?|rar|zip|rtf|odt)(?![a-zA-Z])", re.IGNORECASE)
_FILE_START = re.compile(
    r"(?<=[^\s(\[])(?=(?:Mẫu|Mau|MẪU|MAU|Mus|Ms|Phụ lục|PHỤ LỤC|Phu luc|Tờ khai|To khai|TỜ KHAI|Đơn|Don|"
    r"Biểu|Bieu|BIỂU|Form|Phiếu|Phieu|Giấy|Giay|\d{1,2}\.\s?[A-ZĐ]|\d{1,2}\.[a-z]))"
)
# Capitals only: the range À-Ỹ also holds the lower-case letters ('trắng' is not 'tr' + 'Ắng').
UPPER = "A-Z" + "".join(sorted({c for c in map(chr, range(0xC0, 0x1EFA)) if c.isupper()}))
LOWER = "a-z" + "".join(sorted({c for c in map(chr, range(0xC0, 0x1EFA)) if c.islower()}))
# Where a file name starts glued to the title: a capital after a letter, or a word right after the
# title's final '.'/';' ('…nền màu trắng.mau so 12.doc', '…quy định;văn bản đề nghị.docx').
_GLUE = re.compile(rf"(?<=[^\s(])(?=[{UPPER}])|(?<=[{LOWER}][.;])(?=[{LOWER}])")


def split_form_files(chunk: str) -> tuple[str, list[str]]:
    """'Tờ khai … (Mẫu TK01)Mau TK01.docx' → ('Tờ khai … (Mẫu TK01)', ['Mau TK01.docx'])."""
    chunk = chunk.strip()
    if not _FILE_EXT.search(chunk) or not re.search(r"\.(?:docx?|pdf|xlsx?|rar|zip|rtf|odt)$", chunk, re.I):
        return chunk, []
    first_ext = _FILE_EXT.search(chunk)
    assert first_ext is not None
    window_start = max(0, first_ext.start() - 160)
    starts = [m.start() for m in _FILE_START.finditer(chunk, window_start, first_ext.start())]
    if not starts:
        starts = [m.start() for m in _GLUE.finditer(chunk, window_start, first_ext.start())][-1:]
    start = starts[0] if starts else 0
    files_text = chunk[start:]
    files = [
        piece.strip()
        for piece in re.split(r"(?<=\.docx)|(?<=\.doc)(?!x)|(?<=\.pdf)|(?<=\.xlsx)|(?<=\.xls)(?!x)",
                              files_text, flags=re.I)
        if piece.strip()
    ]
    return chunk[:start].strip(), files


def _document_name(text: str) -> str:
    """Title without the list bullet the portal kept ('- ', '+ ', '• ')."""
    return re.sub(r"^[-+•*]+\)?\s*", "", (one_line(text) or "").lstrip(" \t")).strip()


def _case_name(text: str) -> str | None:
    name = one_line(text.strip(" -*:\n"))
    if not name or set(name) <= set("-* "):
        return None
    return name


def parse_documents(raw: str | None) -> Parsed[list[DocumentCase]]:
    problems: list[str] = []
    text = raw or ""
    if not text.strip():
        return Parsed([], ["no document table"])
    segments = text.split(DOCUMENT_HEADER)
    if len(segments) == 1:
        if not _COUNT.search(text):
            return Parsed([], ["no document table (the field holds other text)"])
        problems.append("no table header; documents cut by their counts only")
        segments = ["", text]
    cases: list[DocumentCase] = []
    next_case = segments[0]
    for index, segment in enumerate(segments[1:], start=1):
        case = _case_name(next_case)
        present_only = bool(case and "xuất trình" in case.lower())
        documents: list[Document] = []
        position = 0
        for count in _COUNT.finditer(segment):
            chunk = segment[position : count.start()]
            position = count.end()
            name, files = split_form_files(chunk)
            name = _document_name(name)
            if not name:
                continue
            documents.append(
                Document(
                    name=name,
                    form=form_code(name, " ".join(files) or None),
                    form_file="; ".join(files) or None,
                    originals=int(count.group(1)),
                    copies=int(count.group(2)) if count.group(2) else 0,
                    present_only=present_only,
                )
            )
        trailing = segment[position:]
        if index < len(segments) - 1:
            next_case = trailing
        elif one_line(trailing):
            name, files = split_form_files(trailing)
            if one_line(name):
                documents.append(
                    Document(name=_document_name(name), form=form_code(name, " ".join(files) or None),
                             form_file="; ".join(files) or None, present_only=present_only)
                )
                problems.append("a document without a count")
        if documents:
            cases.append(DocumentCase(case=case, documents=documents))
        elif case:
            problems.append(f"case without documents: {case[:50]}")
    if not cases:
        problems.append("no documents found")
    return Parsed(cases, problems)


# --- Legal basis (can_cu_phap_ly) --------------------------------------------------------------

LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
# Issuer parts of document numbers; used to tell "NQ-CP" + "Thông tư…" from "TT-BCA" + "ngày…".
KNOWN_ISSUERS = frozenset(
    {
        "CP", "TTg", "BCA", "BTC", "BTP", "BXD", "BNNMT", "BNN", "PTNT", "BTNMT", "NHNN", "UBND",
        "HĐND", "BQP", "BYT", "BGTVT", "BCT", "BLĐTBXH", "BNV", "BGDĐT", "BKHĐT", "BKHCN", "BTTTT",
        "BVHTTDL", "VPCP", "TANDTC", "VKSNDTC", "UBTVQH", "QH", "NQ", "NĐ", "QĐ", "TT", "TTLT", "CT",
        "BNG", "BDT", "KTNN", "NQLT", "QĐLT", "UBTƯMTTQVN", "BGD", "ĐT", "BLĐ", "TBXH", "BKH", "NHNNVN",
        "KBNN", "TCT", "TCHQ", "BHXH", "BNNPTNT",
    }
)
_NUMBER_CELL_START = re.compile(r"[a-zà-ỹ)](?:Luật|Nghị định|Thông tư|Quyết định|Nghị quyết)(?: số)?\s*$")
_NUMBER_HEAD = re.compile(r"\d{1,4}[a-z]?(?:\.\d+)?/(?:\d{4}/)?(?=[A-ZĐ])")  # '30a/2008/NQ-CP' too


def _read_issuer(text: str, start: int) -> int:
    """End of the issuer part ('NĐ-CP', 'QĐ-TTg', 'QH14', 'TTLT-BQP-BTC') that starts at `start`."""
    position = start
    while True:
        end = position
        while end < len(text) and (text[end].isupper() or text[end] == "&"):
            end += 1
        token = text[position:end]
        if token == "TT" and text[end : end + 1] == "g":
            end += 1
            token = "TTg"
        digits = end
        while digits < len(text) and text[digits].isdigit() and digits - end < 2:
            digits += 1
        if digits > end and token.endswith("QH") and text[digits : digits + 1] != "/":
            end = digits  # only the National Assembly's numbers carry a term: QH13, UBTVQH14
        elif token not in KNOWN_ISSUERS:
            known = [cut for cut in range(len(token) - 1, 1, -1) if token[:cut] in KNOWN_ISSUERS]
            if known:
                return position + known[0]  # the rest starts the next title ("CPThông", "BCASỬA ĐỔI")
        separator = re.match(r"[-/]\s?(?=[A-ZĐ])", text[end:])
        if not separator or end == position:
            return end
        position = end + separator.end()


def _complete(number: str) -> bool:
    """Whether a number ends in a whole issuer ('NĐ-CP', 'QH14'), not a cut one ('NĐ-C' + 'Quy')."""
    last = re.split(r"[-/]", number)[-1]
    return last in KNOWN_ISSUERS or bool(re.fullmatch(r"(?:UBTV)?QH\d{2}", last))


def document_numbers(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, ends_row) for each document number in a glued legal-basis string."""
    found = []
    position = 0
    while match := _NUMBER_HEAD.search(text, position):
        end = _read_issuer(text, match.end())
        start = match.start()
        run_start = start
        # Digits before the match belong to it unless they end the previous number ('QH13' + '54/…').
        while run_start > position and text[run_start - 1].isdigit():
            run_start -= 1
        digits = text[run_start : text.index("/", start)]
        if len(digits) > 4 and re.match(r"(?:19|20)\d\d", digits):
            start = run_start + 4  # 'Luật Cư trú 2020' + '68/2020/QH14' glued as '202068/2020/QH14'
        elif run_start < start:
            start = run_start
        following = text[end : end + 1]
        ends_row = following == "" or following.isdigit() or following.isupper() or following in "“\"("
        # A number cell that repeats the kind ('…tín dụngLuật số 32/2024/QH15') ends its row even
        # when the next title starts in lower case.
        ends_row = ends_row or bool(_NUMBER_CELL_START.search(text, 0, start))
        # A whole number glued to the title before it ('…CON NUÔI10/2020/TT-BTPquy định …') is its
        # row's number cell; a number in a title has a space or 'số' before it.
        ends_row = ends_row or (
            text[start - 1 : start].isalpha() and not re.search(r"(?:số|/[A-ZĐ][\w-]*)$", text[:start])
            and _complete(text[start:end]))
        found.append((start, end, ends_row))
        position = max(end, match.start() + 1)
    return found


LAW_KINDS = ("Thông tư liên tịch", "Nghị định", "Nghị quyết", "Thông tư", "Quyết định", "Pháp lệnh", "Luật",
             "Chỉ thị", "Lệnh", "Văn bản hợp nhất")
_KIND = "|".join(LAW_KINDS)
# The number column repeats the kind ('Luật số', 'số'), glued to the end of the title cell.
_TRAILING_KIND = re.compile(rf"(?:\s*[-–:]?\s*(?:(?:{_KIND})(?:\s+số)?|số))+\s*$")
_DOUBLED_KIND = re.compile(rf"^({_KIND})\s*\1(?=\s|$)")
_KIND_BY_ISSUER = (("TTLT-", "Thông tư liên tịch"), ("NĐ-", "Nghị định"), ("TT-", "Thông tư"),
                   ("QĐ-", "Quyết định"), ("NQ-", "Nghị quyết"), ("CT-", "Chỉ thị"))


def legal_title(title: str | None, code: str) -> str:
    """A legal reference's title without the number cell's words glued to it; a title that is only
    a kind ('Luật', 'Luật số') or only the number becomes '<kind> số <number>'."""
    text = _DOUBLED_KIND.sub(r"\1", (title or "").strip(" -–:"))
    kind_only = re.fullmatch(rf"({_KIND})(?:\s+số)?", text)
    if kind_only:
        return f"{kind_only.group(1)} số {code}"
    text = _TRAILING_KIND.sub("", text).strip(" -–:") if len(text) > 12 else text
    if text.endswith(code) and text[: -len(code)].strip(" -–:số") == "":
        text = ""
    if not text:
        issuer = code.split("/")[-1]
        kind = next((name for prefix, name in _KIND_BY_ISSUER if issuer.startswith(prefix)), "Văn bản")
        return f"{kind} số {code}"
    return text


def parse_legal_basis(raw: str | None) -> Parsed[list[LegalRef]]:
    """Rows are 'title' + 'number' glued; a number ends a row when the next row starts right after it."""
    text = (raw or "").replace(LEGAL_HEADER, "", 1).strip()
    if not clean(text):
        return Parsed([], ["no legal basis"])
    problems: list[str] = []
    ends = [(start, end) for start, end, ends_row in document_numbers(text) if ends_row]
    refs: list[LegalRef] = []
    position = 0
    for number_index, (start, end) in enumerate(ends):
        number = text[start:end]
        title = one_line(text[position:start]) or ""
        following = ends[number_index + 1] if number_index + 1 < len(ends) else None
        if following and following[0] == end and text[following[0] : following[1]] == number:
            continue  # 'Luật 60/2014/QH13' + '60/2014/QH13': the first copy belongs to the title
        position = end
        code = re.sub(r"-\s+", "-", number)
        *before, title = _split_number_cells(title)
        refs.extend(before)
        rest = _KIND_GLUE.split(title, maxsplit=1)
        if len(rest) == 2 and rest[0][:1].islower() and refs and rest[0].strip() in refs[-1].title:
            title = rest[1]  # 'của Chính phủ' + 'Luật …': the end of the previous number cell
        refs.append(LegalRef(code=code, title=legal_title(title, code)))
    tail = one_line(text[position:])
    if tail:
        *before, tail = _split_number_cells(tail)
        refs.extend(before)
        tail = _TRAILING_KIND.sub("", _DOUBLED_KIND.sub(r"\1", tail)).strip(" -–:")
        if tail:
            refs.append(LegalRef(code=None, title=tail))
            problems.append(f"legal reference without a number: {tail[:50]}")
    # A row the table repeats ('Nghị định 101/2024/NĐ-CP' twice) is listed once.
    unique = list({(ref.code, ref.title): ref for ref in refs}.values())
    numbered = {ref.title for ref in unique if ref.code}
    unique = [ref for ref in unique if ref.code or ref.title not in numbered]
    return Parsed(unique, problems)


# Where a title glued to the next cell starts again with a kind ('…Việt NamLuật Giám định …').
_KIND_GLUE = re.compile(rf"(?<=[a-zà-ỹ0-9;)])(?=(?:{_KIND})\b)")
# A number cell whose issuer is cut ('118/2025/NĐ-C' before 'Quy định …' or at the end).
_CUT_ISSUER = re.compile(r"(?<=[a-zà-ỹ])\d{1,4}/\d{4}/(?:[A-ZĐ]+-)*(?:C|T|B|N)(?=[A-ZĐÀ-Ỹ][a-zà-ỹ]|$)")
# A kind and a number without issuer ending a title ('… bổ sungNghị định số 85/2026').
_BARE_NUMBER_CELL = re.compile(rf"(?<=[a-zà-ỹ])((?:{_KIND})\s+số\s+\d+/\d{{4}})$")
# A number cell cut to its first digits ('Luật số 58' for 58/2024/QH15) before the next title.
_CUT_CELL = re.compile(rf"(?<=[a-zà-ỹ])(?:{_KIND})\s+số\s+(\d+)(?=[A-ZĐÀ-Ỹ]|$)")


def _split_number_cells(title: str) -> list[str | LegalRef]:
    """A title with number cells glued into it: the references those cells end, then the title left.

    'Luật số 58/2024/QH15 …: Luật Đầu tư côngLuật số 58Thực hiện …' holds a row whose number cell
    was cut to 'Luật số 58': that row is 58/2024/QH15, and 'Thực hiện …' starts the next title. A
    cell that repeats its title ('…Việt NamLuật Giám định tư pháp', 'Luật Nuôi con nuôiLuật Nuôi con
    nuôi') is dropped."""
    found: list[str | LegalRef] = []
    while True:
        cuts = [cut for cut in (_CUT_ISSUER.search(title), _CUT_CELL.search(title)) if cut]
        if not cuts:
            break
        cut = min(cuts, key=lambda match: match.start())
        head = title[: cut.start()].strip()
        if cut.re is _CUT_ISSUER:
            # '…quốc gia118/2025/NĐ-CQuy định …': the cell's issuer is cut; the number is not guessed.
            found.append(LegalRef(code=None, title=f"{head} (số hiệu trên Cổng bị cắt: {cut.group(0)})"))
        else:
            number = re.search(rf"(?<![\d/]){cut.group(1)}/\d{{4}}/[A-ZĐ][\w-]*", head)
            if not number:
                break
            found.append(LegalRef(code=number.group(0), title=legal_title(head, number.group(0))))
        title = title[cut.end() :]
    bare = _BARE_NUMBER_CELL.search(title)
    if bare:
        title = f"{bare.group(1)}: {title[: bare.start()].strip()}"
    pieces = [piece for piece in _KIND_GLUE.split(title) if piece]
    while len(pieces) > 1 and pieces[0].strip() == pieces[1].strip() and not re.fullmatch(
            rf"(?:{_KIND})(?:\s+số)?", pieces[0].strip()):
        found.append(LegalRef(code=None, title=pieces[0].strip()))  # a row without a number
        pieces = pieces[2:]
    kept = [piece for index, piece in enumerate(pieces)
            if not any(earlier.startswith(piece.strip()) for earlier in pieces[:index])]
    found.append("".join(kept))
    return found


# --- Result (ket_qua_xu_ly) --------------------------------------------------------------------

_UI_TEXT = re.compile(r"Từ khóa(?:Không có thông tin|.*?)Mô tả.*$|Chọn cơ quan thực hiện.*$|Nộp hồ sơ$", re.S)
# The result table's code cell: 'Mã: KQ.G01.000251', 'Mã: G19-KQ0060', 'Mã: 1.05.01.G05-KQ01'.
# (and placeholders such as 'Mã: rj'), up to the next row's first word.
_RESULT_CODE = re.compile(r"Mã:\s*[\w.\-]*?(?=[A-ZĐÀ-Ỹ][a-zà-ỹ]|[-+]?\s|$)")


def parse_result(raw: str | None) -> Parsed[list[str]]:
    text = _UI_TEXT.sub("", raw or "")
    results = [one_line(part) for part in _RESULT_CODE.split(text)]
    unique = list(dict.fromkeys(r for r in results if r))
    problems = [] if unique else ["no result"]
    if text != (raw or ""):
        problems.append("repaired: website text removed")
    return Parsed(unique, problems)


# --- Steps (trinh_tu_thuc_hien) ----------------------------------------------------------------

_STEP = re.compile(r"(?=Bước\s*\d+\s*[:.\-])")
_BULLET = re.compile(r"(?:^|\n)\s*-\s+(?=\S)")
_NUMBERED = re.compile(r"(?:^|\n)\s*(?=\d{1,2}[.)]\s)")


# The bullet of the next step left at the end of a piece ('…hồ sơ.\n-'), or a piece's own bullet.
_STRAY_MARKS = re.compile(r"^\s*[-+•*]+(?:\s+|$)|(?:^|\s+)[-+•*]+\s*$")


def split_steps(raw: str | None) -> list[str]:
    text = clean(raw)
    if not text:
        return []
    if len(re.findall(r"Bước\s*\d+\s*[:.\-]", text)) >= 2:
        pieces = _STEP.split(text)
    elif len(_NUMBERED.findall(text)) >= 2:
        pieces = _NUMBERED.split(text)
    elif len(_BULLET.findall(text)) >= 2:
        pieces = _BULLET.split(text)
    else:
        pieces = [text]
    steps = [_STRAY_MARKS.sub("", piece).strip(" \n") for piece in pieces]
    return [step for step in steps if re.search(r"\w", step)]


# --- Conditions (yeu_cau_dieu_kien) ------------------------------------------------------------


def split_conditions(raw: str | None) -> list[str]:
    text = clean(raw)
    if not text:
        return []
    pieces = re.split(r"\n+|(?<=[.;])\s*(?=[-+]\s)", text)
    return [one_line(p.lstrip("-+• ")) or "" for p in pieces if one_line(p.lstrip("-+• "))]
