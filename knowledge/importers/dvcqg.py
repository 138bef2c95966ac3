"""Importer for the National Public Service Portal crawl: procedures-dvcqg/raw/<ministry>/<code>.json."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from knowledge.importers.common import (
    ImportedRecord,
    finish_record,
    levels_from,
    load_record_file,
    split_list,
)
from knowledge.importers.tables import (
    parse_channels,
    parse_documents,
    parse_legal_basis,
    parse_result,
    split_conditions,
)
from knowledge.importers.text import clean, one_line
from knowledge.schema import OnlineService, Procedure, Source

logger = logging.getLogger(__name__)

PORTAL = "https://dichvucong.gov.vn"
REQUIRED_KEYS = ("ma_thu_tuc", "ten_thu_tuc", "cach_thuc_thuc_hien", "thanh_phan_ho_so")
_LINKED_CODE = re.compile(r"\b\d\.\d{6}\b")


def province_sets_fee(field: str | None, name: str) -> bool:
    """Hộ tịch and household-business fees are set by each province's People's Council."""
    return (field or "").strip().lower() == "hộ tịch" or "hộ kinh doanh" in name.lower()


def online_level(*texts: str | None) -> str | None:
    joined = " ".join(t for t in texts if t).lower()
    if "toàn trình" in joined:
        return "toàn trình"
    if re.search(r"trực tuyến một phần|dịch vụ công một phần", joined):
        return "một phần"
    return None


def parse_record(raw: dict[str, Any], ministry: str | None = None) -> ImportedRecord:
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise ValueError(f"not a portal record: missing {', '.join(missing)}")
    code = str(raw["ma_thu_tuc"]).strip()
    name = one_line(raw["ten_thu_tuc"]) or code
    field = one_line(raw.get("linh_vuc"))
    channels = parse_channels(raw.get("cach_thuc_thuc_hien"), province_sets_fee(field, name))
    documents = parse_documents(raw.get("thanh_phan_ho_so"))
    legal = parse_legal_basis(raw.get("can_cu_phap_ly"))
    result = parse_result(raw.get("ket_qua_xu_ly"))
    detail_url = clean(raw.get("detail_url"))
    has_online = any(c.kind.value == "truc_tuyen" for c in channels.value)
    procedure = Procedure(
        code=code,
        name=name,
        field=field,
        levels=levels_from(raw.get("cap_thuc_hien")),
        agency=one_line(raw.get("co_quan_thuc_hien")) or one_line(raw.get("co_quan_co_tham_quyen")),
        audience=one_line(raw.get("doi_tuong_thuc_hien")),
        channels=channels.value,
        online=OnlineService(
            level=online_level(raw.get("cach_thuc_thuc_hien"), raw.get("trinh_tu_thuc_hien"))
            if has_online
            else None,
            url=(detail_url or PORTAL) if has_online else None,
        ),
        documents=documents.value,
        conditions=split_conditions(raw.get("yeu_cau_dieu_kien")),
        result=result.value,
        legal_basis=legal.value,
        linked=[c for c in _LINKED_CODE.findall(raw.get("thu_tuc_lien_quan") or "") if c != code],
        source=Source(url=detail_url, decision=one_line(raw.get("so_quyet_dinh")), origin="dvcqg"),
    )
    return finish_record(
        procedure,
        steps_text=raw.get("trinh_tu_thuc_hien"),
        ministry=ministry,
        problems={
            "channels": channels.problems,
            "documents": documents.problems,
            "legal_basis": legal.problems,
            "result": result.problems,
        },
    )


def load_file(path: Path) -> ImportedRecord:
    return load_record_file(path, lambda raw: parse_record(raw, ministry=path.parent.name))


def iter_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "procedures-dvcqg" / "raw").glob("*/*.json"))


__all__ = ["load_file", "parse_record", "split_list"]
