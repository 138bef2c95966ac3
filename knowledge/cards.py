"""Answer cards: the plain-text answer a citizen sees for one procedure.

Used by `tthc show` and by the bot. Vietnamese, short lines, "• " lists, readable on a phone.
Every card ends with the source line (national code, decision, link, verification date).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from knowledge.config import get_settings
from knowledge.schema import Channel, Document, Fee, Procedure

ASPECTS = (
    "documents", "fee", "time", "place", "steps", "online", "forms",
    "result", "conditions", "legal", "linked", "cases", "source",
)
FULL_CARD = (
    "documents", "place", "online", "time", "fee", "result", "conditions", "steps", "legal", "linked",
)
PORTAL = "https://dichvucong.gov.vn"

MAX_DOCUMENTS = 14
# Papers and conditions are the facts a citizen acts on: shown whole up to a generous length.
MAX_DOCUMENT_CHARS = 600
MAX_CONDITION_CHARS = 600
MAX_STEPS = 8
MAX_STEP_CHARS = 260
MAX_LEGAL = 6
MAX_LIST_ITEMS = 6


def _short(text: str, limit: int, whole_sentences: bool = False) -> str:
    """Shortened for display only, at the end of a sentence when one ends in the second half of the
    limit, else at a word boundary (never inside a word). With `whole_sentences`, never inside a
    sentence: the first sentence is shown whole however long. The record keeps the full text."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    sentence_end = max(head.rfind(". "), head.rfind("; "))
    if sentence_end >= limit // 2 or (whole_sentences and sentence_end > 0):
        return text[: sentence_end + 1] + " …"
    if whole_sentences:
        later = [i for i in (text.find(". ", limit), text.find("; ", limit)) if i > 0]
        return text[: min(later) + 1] + " …" if later else text
    return head.rsplit(" ", 1)[0].rstrip(",;:(") + "…"


UNVERIFIED = "chưa xác minh"


def unverified_mark(proc: Procedure, *fields: str) -> str:
    """' (chưa xác minh)' when a fact of one of these fields was not checked against a cited source."""
    return f" ({UNVERIFIED})" if any(name in proc.unverified for name in fields) else ""


def marked(text: str, proc: Procedure, *fields: str) -> str:
    """The text with its ' (chưa xác minh)' mark, unless the text ends by saying it is not verified.
    A text that says so of one part only ('… các mức khác chưa xác minh (áp dụng từ …)') is marked too:
    the parts it gives were not checked either."""
    ends_unverified = text.rstrip(" .;)…").lower().endswith(UNVERIFIED)
    return text if ends_unverified else text + unverified_mark(proc, *fields)


def _date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def source_link(proc: Procedure) -> str:
    return proc.source.url or proc.online.url or PORTAL


def money(amount: int, currency: str = "VND") -> str:
    if currency == "VND":
        return f"{amount:,}".replace(",", ".") + " đ"
    return f"{amount:,} {currency}".replace(",", ".")


def fee_text(fee: Fee, with_note: bool = False, exemptions: bool = True) -> str:
    if fee.amount == 0:
        text = "Miễn phí"
    elif fee.amount is not None:
        text = money(fee.amount, fee.currency) + (f"/{fee.per}" if fee.per else "")
    elif fee.set_by_province:
        text = "do HĐND tỉnh quy định"
    elif fee.note and re.search(r"\d\s*(?:đ|đồng|USD)\b", fee.note):
        text, with_note = _short(fee.note, 200), False  # the amount is in the source's own words
    else:
        text = "chưa rõ mức phí"
        with_note = True
    if fee.set_by_province and fee.amount is not None:
        text += " (do HĐND tỉnh quy định)"
    if fee.valid_to:
        text += f" (áp dụng đến hết {_date(fee.valid_to)})"
    elif fee.valid_from:
        text += f" (áp dụng từ {_date(fee.valid_from)})"
    if with_note and fee.note:
        text += f" – {_short(fee.note, 140)}"
    elif exemptions and fee.note and (exemption := exemption_clause(fee.note)):
        text += f" – {_short(exemption, 480)}"
    return text


# A sentence that exempts someone: 'Miễn lệ phí … đối với trường hợp …; cô, cậu, dì …', 'Người thuộc
# diện miễn lệ phí theo Điều 4 …'. A bare 'Miễn phí' is the fee itself, not an exemption.
_EXEMPTION = re.compile(r"[^.]*?\b(?:[Mm]iễn (?:nộp )?(?:lệ )?phí|được miễn|diện miễn|[Mm]iễn)\b[^.]{12,}")


def exemption_clause(note: str) -> str | None:
    """The sentence of a fee note that exempts someone ('Miễn lệ phí cho người …'), if any."""
    for match in _EXEMPTION.finditer(note):
        clause = match.group(0).strip(" -+,:")
        if "nhằm hỗ trợ" not in clause:  # the title of Thông tư 64/2025/TT-BTC, not an exemption
            return clause
    return None


def channel_fees(channel: Channel, today: date) -> str:
    fees = channel.fees_in_force(today)
    if not fees:
        return "không có thông tin về phí"
    several = len(fees) > 1
    return "; ".join(fee_text(fee, with_note=several) for fee in fees[:4])


_TIME_PHRASE = re.compile(r"\d+\s*(?:ngày làm việc|ngày|giờ làm việc|giờ|tháng)\b[^;.]{0,50}")


def _case_time(case: str) -> str:
    """One case's time for display: shortened, but never without its time figure."""
    shown = _short(case, 140)
    phrase = _TIME_PHRASE.search(case)
    if phrase and not _TIME_PHRASE.search(shown):
        shown = shown.rstrip("…") + " … " + _short(phrase.group(0), 60)
    return shown


def time_text(channel: Channel) -> str:
    limit = channel.time_limit
    if limit is not None and limit.by_case:
        return "tùy trường hợp: " + "; ".join(_case_time(case) for case in limit.by_case)
    if limit is None or (limit.value is None and not limit.note):
        return "nguồn không ghi thời hạn"
    if limit.value is None:
        return _short(limit.note or "", 320)
    return limit.text()


def channel_time(proc: Procedure, channel: Channel, chars: int | None = None) -> str:
    """The channel's time as the card shows it (cut to `chars` characters before its mark): an unchecked
    record without a figure says so."""
    limit = channel.time_limit
    unstated = limit is None or (limit.value is None and not limit.note and not limit.by_case)
    if unstated and "time_limit" in proc.unverified:
        return f"{UNVERIFIED} thời hạn"
    text = time_text(channel)
    return marked(_short(text, chars) if chars else text, proc, "time_limit")


def _counts(document: Document) -> str | None:
    parts = []
    if document.originals:
        parts.append(f"{document.originals} bản chính")
    if document.copies:
        parts.append(f"{document.copies} bản sao")
    return ", ".join(parts) or None


def form_label(form: str | None) -> str | None:
    """'mẫu CT01', but a form already named 'Mẫu số 10' or 'Phụ lục 12.9' as it is."""
    if not form:
        return None
    return form if form.lower().startswith(("mẫu", "phụ lục")) else f"mẫu {form}"


def document_line(document: Document) -> str:
    line = "• " + _short(document.name, MAX_DOCUMENT_CHARS, whole_sentences=True)
    extras = [x for x in (_counts(document), form_label(document.form)) if x]
    if document.present_only:
        extras.append("xuất trình")
    if extras:
        line += f" ({'; '.join(extras)})"
    if document.condition:
        line += f" – {_short(document.condition, MAX_CONDITION_CHARS, whole_sentences=True)}"
    return line


def _documents(proc: Procedure) -> list[str]:
    if not proc.documents:
        return [f"Hồ sơ: nguồn không liệt kê giấy tờ; xem {source_link(proc)}"]
    # Papers to hand in come first when the list must be cut; entries without a count are
    # mostly remarks the portal put in the table.
    everything = [(i, j) for i, case in enumerate(proc.documents) for j, _ in enumerate(case.documents)]
    counted = [(i, j) for i, j in everything if _counts(proc.documents[i].documents[j])]
    remarks = [key for key in everything if key not in set(counted)]
    shown = set((counted + remarks)[:MAX_DOCUMENTS])
    lines = [f"Hồ sơ cần chuẩn bị{unverified_mark(proc, 'documents')}:"]
    for i, case in enumerate(proc.documents):
        visible = [document for j, document in enumerate(case.documents) if (i, j) in shown]
        if not visible:
            continue
        if case.case:
            label = _short(case.case, 170, whole_sentences=True).rstrip(":")
            plain = label.lower().startswith(("trường hợp", "lưu ý", "ghi chú", "chú ý"))
            lines.append(label + ":" if plain else f"Trường hợp {label}:")
        lines.extend(document_line(document) for document in visible)
    if len(shown) < len(everything):
        lines.append(f"… còn {len(everything) - len(shown)} mục, xem đầy đủ tại {source_link(proc)}")
    return lines


def _cases(proc: Procedure) -> list[str]:
    """The documents of the cases beyond the common one (the first listed)."""
    others = [case for case in proc.documents[1:] if case.documents]
    if not others:
        return ["Các trường hợp khác: nguồn không nêu trường hợp riêng ngoài hồ sơ thông thường."]
    lines = ["Các trường hợp khác:"]
    for case in others:
        label = _short(case.case or "khác", 170).rstrip(":")
        lines.append(label + ":" if label.lower().startswith("trường hợp") else f"Trường hợp {label}:")
        lines.extend(document_line(document) for document in case.documents[:MAX_LIST_ITEMS])
    return lines


def _forms(proc: Procedure) -> list[str]:
    forms = [d for case in proc.documents for d in case.documents if d.form or d.form_file]
    if not forms:
        return ["Mẫu đơn, tờ khai: nguồn không ghi mã mẫu."]
    lines = ["Mẫu đơn, tờ khai:"]
    for document in forms[:MAX_DOCUMENTS]:
        label = document.form or document.form_file or ""
        lines.append(f"• {label}: {_short(document.name, 120)}")
    return lines


def _filing(proc: Procedure, channel: Channel) -> str:
    """Where or how one channel takes the dossier, as far as the record says."""
    if channel.kind.value == "truc_tuyen":
        level = f" ({proc.online.level})" if proc.online.level else ""
        return f"Cổng Dịch vụ công quốc gia {proc.online.url or PORTAL}{level}"
    if channel.description:
        return _short(channel.description, 220)
    if channel.kind.value == "buu_chinh":
        return "gửi hồ sơ qua dịch vụ bưu chính công ích"
    return "tại cơ quan giải quyết nêu trên" if proc.agency else "nguồn không ghi nơi nộp"


def _place(proc: Procedure) -> list[str]:
    lines = []
    if proc.agency:
        lines.append(f"Cơ quan giải quyết: {_short(proc.agency, 200)}{unverified_mark(proc, 'agency')}")
    elif proc.channels or proc.levels:
        lines.append("Cơ quan giải quyết: nguồn không ghi")
    if proc.levels:
        lines.append(f"Cấp thực hiện: {', '.join(proc.levels)}")
    if proc.channels:
        lines.append(f"Cách nộp{unverified_mark(proc, 'channels')}:")
        lines.extend(f"• {channel.kind.label}: {_filing(proc, channel)}" for channel in proc.channels)
    return lines or ["Nơi nộp: nguồn không ghi."]


def _online(proc: Procedure) -> list[str]:
    online = next((c for c in proc.channels if c.kind.value == "truc_tuyen"), None)
    if online is None:
        return ["Nộp trực tuyến: nguồn không ghi hình thức trực tuyến cho thủ tục này."]
    level = f" ({proc.online.level})" if proc.online.level else ""
    url = proc.online.url or PORTAL
    mark = unverified_mark(proc, "online")
    return [f"Nộp trực tuyến{level}{mark}: Cổng Dịch vụ công quốc gia {url} hoặc ứng dụng VNeID (nếu có)."]


def _channels(proc: Procedure, today: date, show_time: bool, show_fee: bool) -> list[str]:
    if not proc.channels:
        return ["Cách nộp, thời hạn, lệ phí: nguồn không có thông tin."]
    title = {
        (True, True): f"Cách nộp – thời hạn – lệ phí (áp dụng ngày {_date(today)}):",
        (True, False): "Thời hạn giải quyết:",
        (False, True): f"Lệ phí (áp dụng ngày {_date(today)}):",
    }[(show_time, show_fee)]
    # Channels with the same time and fee share one line: "• Trực tiếp, Trực tuyến: …".
    by_text: dict[str, list[str]] = {}
    for channel in proc.channels:
        parts = []
        if show_time:
            parts.append(channel_time(proc, channel))
        if show_fee:
            parts.append(marked(channel_fees(channel, today), proc, "fees"))
        by_text.setdefault("; ".join(parts), []).append(channel.kind.label)
    return [title, *(f"• {', '.join(kinds)}: {text}" for text, kinds in by_text.items())]


def _numbered(title: str, items: Iterable[str], limit: int, chars: int, proc: Procedure) -> list[str]:
    items = list(items)
    lines = [title]
    for index, item in enumerate(items[:limit], start=1):
        lines.append(f"{index}. {_short(item, chars)}")
    if len(items) > limit:
        lines.append(f"… xem đầy đủ tại {source_link(proc)}")
    return lines


def _bullets(title: str, items: list[str], chars: int, proc: Procedure) -> list[str]:
    lines = [title, *(f"• {_short(item, chars, whole_sentences=True)}" for item in items[:MAX_LIST_ITEMS])]
    if len(items) > MAX_LIST_ITEMS:
        lines.append(f"… xem đầy đủ tại {source_link(proc)}")
    return lines


def _legal(proc: Procedure) -> list[str]:
    if not proc.legal_basis:
        return ["Căn cứ pháp lý: nguồn không ghi."]
    lines = [f"Căn cứ pháp lý{unverified_mark(proc, 'legal_basis')}:"]
    for ref in proc.legal_basis[:MAX_LEGAL]:
        title = _short(ref.title, 120)
        if ref.code and ref.code not in title:
            lines.append(f"• {ref.code} – {title}")
        else:
            lines.append(f"• {title}")
    if len(proc.legal_basis) > MAX_LEGAL:
        lines.append(f"• … và {len(proc.legal_basis) - MAX_LEGAL} văn bản khác")
    return lines


LEGAL_KINDS = ("Luật", "Bộ", "Nghị", "Thông", "Quyết", "Pháp")


def source_line(proc: Procedure) -> str:
    parts = [f"mã TTHC {proc.code}"]
    if decision := proc.source.decision:
        # A curated record's source is the legal text it is written from ('Thông tư 21/2019/TT-BGDĐT').
        parts.append(decision if decision.split()[0] in LEGAL_KINDS else f"Quyết định {decision}")
    parts.append(source_link(proc))
    verified = proc.source.verified
    if verified and not proc.unverified:
        parts.append(f"kiểm tra ngày {_date(verified)}")
    elif proc.curated and proc.unverified:
        parts.append("biên soạn thủ công, có thông tin chưa xác minh")
    else:
        parts.append("chưa kiểm tra thủ công")
    return "Nguồn: " + " · ".join(parts)


def _section(proc: Procedure, aspect: str, today: date) -> list[str]:
    if aspect == "documents":
        return _documents(proc)
    if aspect == "forms":
        return _forms(proc)
    if aspect == "place":
        return _place(proc)
    if aspect == "online":
        return _online(proc)
    if aspect == "time":
        return _channels(proc, today, show_time=True, show_fee=False)
    if aspect == "fee":
        return _channels(proc, today, show_time=False, show_fee=True)
    if aspect == "result":
        title = f"Kết quả{unverified_mark(proc, 'result')}:"
        return _bullets(title, proc.result, 200, proc) if proc.result else ["Kết quả: nguồn không ghi."]
    if aspect == "conditions":
        title = f"Điều kiện{unverified_mark(proc, 'conditions')}:"
        return _bullets(title, proc.conditions, MAX_CONDITION_CHARS, proc) if proc.conditions else []
    if aspect == "steps":
        if not proc.steps:
            return ["Trình tự: nguồn không ghi."]
        title = f"Các bước{unverified_mark(proc, 'steps')}:"
        return _numbered(title, proc.steps, MAX_STEPS, MAX_STEP_CHARS, proc)
    if aspect == "legal":
        return _legal(proc)
    if aspect == "cases":
        return _cases(proc)
    if aspect == "source":
        return []  # the source line closes every card
    if aspect == "linked":
        return [f"Thủ tục liên thông/liên quan: {', '.join(proc.linked)}"] if proc.linked else []
    raise ValueError(f"unknown aspect {aspect!r}; expected one of {', '.join(ASPECTS)}")


# Words by which a record's caveat (note) is about one aspect of the answer; an aspect card shows
# only the caveats about what was asked, the full card shows them all.
NOTE_TOPICS: dict[str, tuple[str, ...]] = {
    "documents": ("giấy", "hồ sơ", "bản sao", "bản chính", "mẫu", "tờ khai", "xuất trình"),
    "forms": ("mẫu", "tờ khai"),
    "fee": ("phí", "đồng", "miễn", "hđnd", "hội đồng nhân dân"),
    "time": ("thời hạn", "ngày", "giờ"),
    "place": ("nộp tại", "nơi", "cơ quan", "cấp huyện", "cấp xã", "cấp tỉnh", "trung tâm"),
    "online": ("trực tuyến", "vneid", "dịch vụ công", "online"),
    "steps": ("bước", "trình tự"),
    "conditions": ("điều kiện", "đối tượng"),
    "result": ("kết quả",),
    "legal": ("luật", "nghị định", "thông tư", "căn cứ"),
    "linked": ("liên thông", "liên quan"),
}


# Caveats about who the procedure is for go on every card.
NOTE_ALWAYS = ("dành cho", "không phải thủ tục")


def relevant_notes(proc: Procedure, aspects: Iterable[str]) -> list[str]:
    words = {word for aspect in aspects for word in NOTE_TOPICS.get(aspect, ())} | set(NOTE_ALWAYS)
    return [note for note in proc.notes if any(word in note.lower() for word in words)]


def render_card(proc: Procedure, aspects: list[str] | None = None, today: date | None = None) -> str:
    """The answer card. `aspects` picks sections (None = the full card); the source line is always there."""
    today = today or get_settings().today()
    wanted = list(FULL_CARD) if aspects is None else list(dict.fromkeys(aspects))
    unknown = [a for a in wanted if a not in ASPECTS]
    if unknown:
        raise ValueError(f"unknown aspect(s) {', '.join(unknown)}; expected some of {', '.join(ASPECTS)}")
    if "time" in wanted and "fee" in wanted:
        # One list per channel with both time and fee reads better than two lists.
        position = min(wanted.index("time"), wanted.index("fee"))
        wanted = [a for a in wanted if a not in ("time", "fee")]
        wanted.insert(position, "time+fee")

    blocks: list[list[str]] = [[f"{proc.name} (mã {proc.code})"]]
    if proc.summary and aspects is None:
        blocks[0].append(proc.summary)
    notes = proc.notes if aspects is None else relevant_notes(proc, wanted)
    if notes:
        blocks.append(["Lưu ý:", *(f"• {_short(note, 300)}" for note in notes)])
    for aspect in wanted:
        if aspect == "time+fee":
            lines = _channels(proc, today, show_time=True, show_fee=True)
        else:
            lines = _section(proc, aspect, today)
        if lines:
            blocks.append(lines)
    blocks.append([source_line(proc)])
    return "\n\n".join("\n".join(block) for block in blocks)


def render_summary(proc: Procedure, today: date | None = None) -> str:
    """One line for buttons and result lists: name, time and fee in person (or first channel)."""
    today = today or get_settings().today()
    parts = [f"{_short(proc.name, 90)} ({proc.code})"]
    channel = next((c for c in proc.channels if c.kind.value == "truc_tiep"), None) or (
        proc.channels[0] if proc.channels else None
    )
    if channel:
        if channel.time_limit and channel.time_limit.value is not None:
            parts.append(time_text(channel))
        fees = channel.fees_in_force(today)
        if len(fees) == 1:
            parts.append(fee_text(fees[0], exemptions=False))
    return " · ".join(parts)


# ---- the first answer: short, more on request ------------------------------------------------------

FIRST_ANSWER_CHARS = 1000
FIRST_DOCUMENT_CHARS = 110
FIRST_DOCUMENTS = 6
FIRST_LINE_CHARS = 220  # filing, fee and time lines: the rest is one button away
# Caveats short enough for the first answer: who the procedure is for, and the linked procedures.
FIRST_NOTE_TOPICS = ("linked",)


def _first_documents(proc: Procedure, limit: int) -> list[str]:
    if not proc.documents or not proc.documents[0].documents:
        return [f"Hồ sơ: nguồn không liệt kê giấy tờ; xem {source_link(proc)}"]
    common = proc.documents[0].documents
    lines = [f"Hồ sơ{unverified_mark(proc, 'documents')}:"]
    for document in common[:limit]:
        extras = [x for x in (_counts(document), form_label(document.form)) if x]
        if document.present_only:
            extras.append("xuất trình")
        details = f" ({'; '.join(extras)})" if extras else ""
        lines.append(f"• {_short(document.name, FIRST_DOCUMENT_CHARS)}{details}")
    if len(common) > limit:
        lines.append(f"• … và {len(common) - limit} giấy tờ khác")
    return lines


def _first_filing(proc: Procedure) -> str | None:
    kinds = []
    for channel in proc.channels:
        if channel.kind.value == "truc_tiep":
            kinds.append(f"trực tiếp tại {_short(proc.agency, 90)}" if proc.agency else "trực tiếp")
        elif channel.kind.value == "truc_tuyen":
            kinds.append(f"trực tuyến ({proc.online.url or PORTAL})")
        else:
            kinds.append("qua bưu chính")
    if not kinds:
        return None
    return _short(f"Nộp{unverified_mark(proc, 'channels', 'agency')}: " + "; ".join(kinds), FIRST_LINE_CHARS)


def _first_channel(proc: Procedure) -> Channel | None:
    return next((c for c in proc.channels if c.kind.value == "truc_tiep"), None) or (
        proc.channels[0] if proc.channels else None
    )


def _first_fee_and_time(proc: Procedure, today: date) -> list[str]:
    channel = _first_channel(proc)
    if channel is None:
        return []
    fees = channel.fees_in_force(today)
    fee = fee_text(fees[0]) if fees else "không có thông tin về phí"
    if len(fees) > 1:
        fee += f" (còn {len(fees) - 1} mức khác)"
    label = channel.kind.label.lower()
    fee_line = marked(_short(f"Lệ phí ({label}, ngày {_date(today)}): {fee}", FIRST_LINE_CHARS), proc, "fees")
    time_label = f"Thời hạn ({label}): "
    return [fee_line, time_label + channel_time(proc, channel, FIRST_LINE_CHARS - len(time_label))]


def first_caveat(proc: Procedure) -> str | None:
    """At most one citizen caveat: who the procedure is for, or its linked procedures."""
    notes = relevant_notes(proc, FIRST_NOTE_TOPICS)
    return f"Lưu ý: {_short(notes[0], 160)}" if notes else None


def render_first_answer(proc: Procedure, today: date | None = None) -> str:
    """The first answer about a procedure, at most FIRST_ANSWER_CHARS: name, the common case's
    documents, where to file, today's fee, the time limit, one caveat and the source."""
    today = today or get_settings().today()
    tail = [x for x in (_first_filing(proc), *_first_fee_and_time(proc, today), first_caveat(proc)) if x]
    text = ""
    for limit in range(FIRST_DOCUMENTS, -1, -1):
        blocks = [f"{_short(proc.name, 150)} (mã {proc.code})", "\n".join(_first_documents(proc, limit))]
        blocks += ["\n".join(tail), source_line(proc)]
        text = "\n\n".join(blocks)
        if len(text) <= FIRST_ANSWER_CHARS:
            break
    return text
