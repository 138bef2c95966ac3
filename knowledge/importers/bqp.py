"""Importer for the Ministry of Defence crawl: procedures-bqp/raw/<code>.json (already tabular)."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from knowledge.importers.common import ImportedRecord, finish_record, levels_from, load_record_file
from knowledge.importers.fees import FeeCell, build_fees
from knowledge.importers.tables import (
    CHANNEL_NAMES,
    document_numbers,
    legal_title,
    merge_row,
    sort_description,
    split_conditions,
    time_limit,
)
from knowledge.importers.text import clean, form_code, one_line, parse_number
from knowledge.schema import (
    Channel,
    Document,
    DocumentCase,
    Fee,
    LegalRef,
    OnlineService,
    Procedure,
    Source,
    TimeLimit,
)

PORTAL = "https://dichvucong.gov.vn"
_FEE_LINE = re.compile(
    r"(?:Lệ phí|Phí)\s*:\s*(?P<amount>(?:\d[\d.,]*\d|\d)(?=\s*(?:Đồng|USD|\(|$))|[Kk]hông|o)?\s*"
    r"(?P<currency>Đồng|USD)?\s*(?P<rest>.*)",
    re.S,
)
_COUNTS = re.compile(r"Bản chính:\s*(\d+)\s*Bản sao:\s*(\d+)")


def _fees(raw: str | None, kind, province_set: bool) -> tuple[list[Fee], list[str]]:
    text = clean(raw)
    if not text:
        return [], ["no fee"]
    rules: list[Fee] = []
    problems: list[str] = []
    for line in re.split(r"\n(?=(?:Lệ phí|Phí)\s*:)", text):
        match = _FEE_LINE.match(line.strip())
        if not match:
            rules.append(Fee(amount=None, note=one_line(line)))
            continue
        rest = match["rest"].strip()
        description = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest
        figure = match["amount"]
        if figure and figure[0].isdigit():
            value = parse_number(figure)
            if value.is_integer():
                cell = FeeCell(int(value), currency="USD" if match["currency"] == "USD" else "VND",
                               raw=line.strip())
            else:
                rules.append(Fee(amount=None, currency=match["currency"] or "VND",
                                 note=f"{figure} {match['currency'] or ''} {description}".strip()))
                continue
        elif figure:
            cell = FeeCell(free=True, raw=line.strip())
        else:
            cell = FeeCell(None, raw=line.strip())
        if cell.amount == 0:
            cell = FeeCell(free=True, raw=line.strip())
        found, found_problems = build_fees(cell, description, kind, province_set)
        rules.extend(found)
        problems.extend(found_problems)
    return rules, problems


def _key(body: str) -> str:
    return " ".join(body.lower().split(",")[0].split()[:4])


def _agency(raw: dict[str, Any]) -> str | None:
    """The body that handles the dossier. Some records put an unrelated body in 'cơ quan thực hiện'
    (1.013533: the General Department of Politics, for a certificate the steps send to the Department
    of Technology Management of the General Department of Defence Industry): when that body is named
    nowhere else in the record and the steps send the dossier to the competent body, the steps win."""
    content = raw["content"]
    named = one_line(content.get("cơ_quan_thực_hiện"))
    competent = one_line(content.get("cơ_quan_có_thẩm_quyền"))
    steps = one_line(content.get("trình_tự_thực_hiện")) or ""
    if not named or not competent:
        return named or competent
    record_text = " ".join(json.dumps(raw, ensure_ascii=False).lower().split())
    related = competent.lower() in named.lower() or named.lower() in competent.lower()
    if related or record_text.count(_key(named)) > 1:
        return named
    body = rf"([A-ZĐ][^()]{{0,60}}?(?i:{re.escape(competent)}))"
    sent = re.search(rf"(?i:(?:gửi|nộp)(?: hồ sơ)?(?: (?:tại|đến|về|cho))?) {body}", steps)
    return sent.group(1).strip() if sent else named


def parse_record(raw: dict[str, Any]) -> ImportedRecord:
    try:
        meta, content, tables = raw["metadata"], raw["content"], raw["tables"]
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a defence-ministry record: missing {error}") from error
    code = str(meta.get("mã_thủ_tục") or raw.get("thu_tuc_id") or "").strip()
    if not code:
        raise ValueError("record without a procedure code")
    name = one_line(meta.get("tên_thủ_tục")) or code
    problems: dict[str, list[str]] = {"channels": [], "documents": [], "legal_basis": [], "result": []}

    channels: dict[str, Channel] = {}
    cases: dict[str, list[tuple[TimeLimit, str]]] = {}
    for row in tables.get("hinh_thuc_nop") or []:
        kind = CHANNEL_NAMES.get((row.get("hinh_thuc") or "").strip())
        if kind is None:
            problems["channels"].append(f"unknown channel {row.get('hinh_thuc')!r}")
            continue
        limit = time_limit(row.get("thoi_han_giai_quyet"))
        span = re.fullmatch(r"\d+\s*[-–]\s*\d+", limit.note or "")
        described = unicodedata.normalize("NFC", one_line(row.get("mo_ta")) or "")
        stated = span and re.search(rf"{re.escape(span.group(0))}\s*(?:ngày|giờ|tháng)[^.;]*", described)
        if stated:
            limit = TimeLimit(note=stated.group(0).strip())  # '10-25' is '10-25 ngày kể từ …' in the text
        if limit.value is None:
            problems["channels"].append(f"{kind.label}: no time limit in the source")
        fees, fee_problems = _fees(row.get("phi_le_phi"), kind, province_set=False)
        problems["channels"].extend(f"{kind.label}: {p}" for p in fee_problems if p != "no fee")
        # The description column holds time limits per step or body as often as a place.
        place, time_sentences, _ = sort_description(one_line(row.get("mo_ta")) or "")
        description = place or None
        if time_sentences and limit.value is not None and not limit.note:
            limit = limit.model_copy(update={"note": " ".join(time_sentences)})
        if kind.value in channels:
            merge_row(channels[kind.value], cases[kind.value], limit, " ".join(time_sentences) or place, fees)
        else:
            cases[kind.value] = [(limit, " ".join(time_sentences) or place)]
            channels[kind.value] = Channel(kind=kind, time_limit=limit, fees=fees, description=description)
    if not channels:
        problems["channels"].append("no channel table")

    documents = []
    for row in tables.get("thanh_phan_ho_so") or []:
        title = one_line(row.get("ten_giay_to"))
        if not title:
            continue
        title = title.lstrip("-+• ").strip()
        file_name = one_line(row.get("so_luong"))
        counts = _COUNTS.search(row.get("ghi_chu") or "")
        if not counts:
            problems["documents"].append(f"no count for {title[:40]!r}")
        documents.append(
            Document(
                name=title,
                form=form_code(title, file_name),
                form_file=file_name,
                originals=int(counts.group(1)) if counts else None,
                copies=int(counts.group(2)) if counts else None,
            )
        )
    if not documents:
        problems["documents"].append("no documents found")

    legal = []
    for row in tables.get("can_cu_phap_ly") or []:
        number = re.sub(r"-\s+", "-", one_line(row.get("so_ky_hieu")) or "") or None
        title = one_line(row.get("trich_yeu")) or number
        if not title:
            continue
        if not number or "/" not in number:
            # The number column sometimes holds only '104'; the title usually names the full number.
            in_title = document_numbers(title)
            number = title[in_title[0][0] : in_title[0][1]] if in_title else None
        legal.append(LegalRef(code=number, title=legal_title(title, number) if number else title))
        if not number:
            problems["legal_basis"].append(f"no document number for {title[:50]!r}")
    if not legal:
        problems["legal_basis"].append("no legal basis")

    result = [r for r in (one_line(x) for x in re.split(r"\n+", content.get("kết_quả_thực_hiện") or "")) if r]
    if not result:
        problems["result"].append("no result")
    decision = one_line(meta.get("số_quyết_định"))
    if decision:
        decision = re.sub(r"^Quyết định số\s*", "", decision)
    has_online = "truc_tuyen" in channels
    procedure = Procedure(
        code=code,
        name=name,
        field=one_line(meta.get("lĩnh_vực")),
        levels=[level.replace("Cấp Xã", "Cấp xã").replace("Cấp Tỉnh", "Cấp tỉnh")
                for level in levels_from(meta.get("cấp_thực_hiện"))],
        agency=_agency(raw),
        audience=one_line(content.get("đối_tượng_thực_hiện")),
        channels=[channels[k] for k in ("truc_tiep", "truc_tuyen", "buu_chinh") if k in channels],
        online=OnlineService(url=PORTAL if has_online else None),
        documents=[DocumentCase(case=None, documents=documents)] if documents else [],
        conditions=split_conditions(content.get("yêu_cầu_điều_kiện_thực_hiện")),
        result=result,
        legal_basis=legal,
        source=Source(url=None, decision=decision, origin="bqp"),
    )
    return finish_record(procedure, content.get("trình_tự_thực_hiện"), ministry="bo-quoc-phong",
                         problems=problems)


def load_file(path: Path) -> ImportedRecord:
    return load_record_file(path, parse_record)


def iter_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "procedures-bqp" / "raw").glob("*.json"))
