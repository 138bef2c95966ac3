"""What both importers share: the imported record with its parse problems, and the final touches
(steps, notes about pre-reform wording, police-force records, inferred or missing time limits)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.importers.steps import repair_moved_phrases
from knowledge.importers.tables import split_steps
from knowledge.importers.text import mentions_district_level, one_line
from knowledge.performers import infer_performers
from knowledge.schema import Procedure

NOTE_DISTRICT = (
    "Văn bản gốc còn nhắc “cấp huyện”; từ 01/7/2025 chính quyền địa phương chỉ còn cấp tỉnh và cấp xã, "
    "việc của cấp huyện nay do cấp xã hoặc cấp tỉnh thực hiện."
)
NOTE_POLICE_BHYT = (
    "Thủ tục này dành cho đối tượng do Công an nhân dân quản lý (cán bộ, chiến sĩ, thân nhân, "
    "học viên…), không phải thủ tục cấp thẻ BHYT của người dân thông thường."
)
POLICE_SUFFIX = " – dành cho đối tượng thuộc Công an nhân dân"
NOTE_UNIT_INFERRED = "Nguồn chỉ ghi số ngày, không ghi đơn vị; hiểu là ngày làm việc."
NOTE_NO_TIME = "Nguồn không ghi thời hạn giải quyết."
NOTE_FEE_UNCLEAR = "Thông tin phí trên cổng không rõ ràng; kiểm tra tại nguồn."


@dataclass
class ImportedRecord:
    procedure: Procedure
    problems: dict[str, list[str]] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)


def levels_from(raw: str | None) -> list[str]:
    return split_list(raw)


def split_list(raw: str | None) -> list[str]:
    text = one_line(raw)
    if not text:
        return []
    return list(dict.fromkeys(part.strip() for part in re.split(r"[,;]", text) if part.strip()))


def is_police_bhyt(procedure: Procedure, ministry: str | None) -> bool:
    name = procedure.name.lower()
    return ministry == "bo-cong-an" and ("thẻ bảo hiểm y tế" in name or "thẻ bhyt" in name)


def finish_record(
    procedure: Procedure,
    steps_text: str | None,
    ministry: str | None,
    problems: dict[str, list[str]],
) -> ImportedRecord:
    marker = "repaired: "
    repairs = [f"{key}: {p.split(marker, 1)[1]}" for key, ps in problems.items() for p in ps if marker in p]
    problems = {key: [p for p in ps if marker not in p] for key, ps in problems.items()}
    notes: list[str] = list(procedure.notes)
    steps = split_steps(steps_text)
    steps, moved = repair_moved_phrases(steps, steps_text or "")
    repairs.extend(f"steps: moved '{m.phrase.strip()}' back into step {m.step + 1}" for m in moved)
    problems = {**problems, "steps": [] if steps else ["no steps"]}

    texts = [steps_text, procedure.agency, *steps, *(c.description for c in procedure.channels)]
    texts += [d.name for case in procedure.documents for d in case.documents]
    if mentions_district_level(*texts):
        notes.append(NOTE_DISTRICT)
        repairs.append("notes: pre-reform 'cấp huyện' wording flagged")

    updates: dict[str, object] = {"steps": steps}
    if is_police_bhyt(procedure, ministry):
        updates["name"] = procedure.name + POLICE_SUFFIX
        updates["summary"] = (
            "Cấp thẻ BHYT cho đối tượng do Công an nhân dân quản lý (không áp dụng cho người dân)."
        )
        notes.insert(0, NOTE_POLICE_BHYT)
        repairs.append("name: marked as the police-force version")

    limits = [c.time_limit for c in procedure.channels if c.time_limit]
    if any(limit.unit_inferred for limit in limits):
        notes.append(NOTE_UNIT_INFERRED)
        repairs.append("time: unit added to a bare number")
    time_problems = [p for p in problems.get("channels", []) if "no time limit" in p]
    if procedure.channels and len(time_problems) >= len(procedure.channels):
        notes.append(NOTE_NO_TIME)
    if any("no clear unit" in p or "glued" in p for p in problems.get("channels", [])):
        notes.append(NOTE_FEE_UNCLEAR)
    updates["notes"] = list(dict.fromkeys(notes))
    updates["performers"] = infer_performers(procedure)
    return ImportedRecord(procedure.model_copy(update=updates), problems, repairs)


def load_record_file(path: Path, parse: Callable[[dict[str, Any]], ImportedRecord]) -> ImportedRecord:
    """Read one crawled record and parse it; every failure names the file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object")
    try:
        return parse(raw)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
