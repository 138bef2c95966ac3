"""The desk helper: procedures searched and shown in full, the checklist of what a person still lacks,
and the guided steps for VNeID and portal accounts, all from the catalogue records."""

from __future__ import annotations

from typing import Any

from knowledge.cards import document_line, render_card, source_line
from knowledge.schema import Procedure

# Guided registrations a volunteer helps with, by catalogue code. The National Public Service Portal
# has no record of its own for opening an account: it is opened by logging in with a VNeID account.
GUIDES: tuple[tuple[str, str], ...] = (
    ("vneid_level1", "1.011410"),
    ("vneid_level2", "3.000228"),
)
PORTAL_ACCOUNT_NOTE = (
    "Danh mục thủ tục chưa có bản ghi cho việc mở tài khoản Cổng Dịch vụ công quốc gia, nên ở đây "
    "không có hướng dẫn từng bước. Cổng cho đăng nhập bằng tài khoản định danh điện tử VNeID "
    "(chưa xác minh với một bản ghi có nguồn)."
)


def _procedure(code: str) -> Procedure | None:
    from knowledge.catalogue import get_catalogue

    return get_catalogue().get(code)


def search_procedures(query: str, limit: int = 8) -> list[dict[str, Any]]:
    from knowledge.search import search

    response = search(query, top_k=limit)
    return [{"code": hit.code, "name": hit.name, "score": round(hit.score, 3)} for hit in response.results]


def _documents(procedure: Procedure) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{i}.{j}",
            "case": case.case,
            "name": document.name,
            "line": document_line(document).removeprefix("• "),
        }
        for i, case in enumerate(procedure.documents)
        for j, document in enumerate(case.documents)
    ]


def procedure_json(code: str) -> dict[str, Any] | None:
    procedure = _procedure(code)
    if procedure is None:
        return None
    return {
        "code": procedure.code,
        "name": procedure.name,
        "card": render_card(procedure),
        "documents": _documents(procedure),
        "steps": procedure.steps,
        "source": source_line(procedure),
    }


def checklist_text(code: str, have: list[str] | None = None) -> str | None:
    """The documents card, or with ``have`` (ticked document ids) the list of what is still missing."""
    procedure = _procedure(code)
    if procedure is None:
        return None
    if have is None:
        return render_card(procedure, aspects=["documents"])
    ticked = set(have)
    documents = _documents(procedure)
    missing = [item for item in documents if item["id"] not in ticked]
    lines = [f"{procedure.name} (mã {procedure.code})", ""]
    if not documents:
        lines.append("Nguồn không liệt kê giấy tờ cho thủ tục này.")
    elif missing:
        lines.append("Giấy tờ còn thiếu:")
        case = None
        for item in missing:
            if item["case"] and item["case"] != case:
                case = item["case"]
                lines.append(f"Trường hợp {case}:")
            lines.append(f"• {item['line']}")
    else:
        lines.append("Đã đủ các giấy tờ trong danh sách.")
    present = len(documents) - len(missing)
    if present:
        lines.append(f"Đã có: {present} giấy tờ.")
    lines += ["", source_line(procedure)]
    return "\n".join(lines)


def guides() -> list[dict[str, Any]]:
    found = []
    for key, code in GUIDES:
        procedure = _procedure(code)
        if procedure is not None:
            found.append(
                {
                    "key": key,
                    "code": code,
                    "name": procedure.name,
                    "steps": procedure.steps,
                    "conditions": procedure.conditions,
                    "documents": _documents(procedure),
                    "source": source_line(procedure),
                }
            )
    found.append(
        {
            "key": "portal_account",
            "code": None,
            "name": "Tài khoản Cổng Dịch vụ công quốc gia",
            "steps": [],
            "conditions": [],
            "documents": [],
            "source": None,
            "note": PORTAL_ACCOUNT_NOTE,
        }
    )
    return found
