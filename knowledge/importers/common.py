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
from knowledge.importers.tables import split_steps, stage_times, stated_time
from knowledge.importers.text import mentions_district_level, one_line
from knowledge.performers import infer_performers
from knowledge.schema import Procedure, TimeLimit

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
NOTE_CMND = (
    "Chứng minh nhân dân đã hết giá trị sử dụng từ 01/01/2025 (khoản 1 Điều 46 Luật Căn cước "
    "26/2023/QH15): nơi giấy tờ ghi CMND, dùng thẻ căn cước, thẻ căn cước công dân còn hạn hoặc căn cước "
    "điện tử."
)
NOTE_AGENCY_FROM_STEPS = "Nguồn không ghi cơ quan thực hiện; cơ quan nêu ở đây lấy từ phần trình tự."
NOTE_STAGES = "Nguồn không ghi thời hạn chung; các mốc thời gian trong trình tự: "
NOTE_TIME_FROM_STEPS = "Cột thời hạn của nguồn để trống; thời hạn lấy từ phần trình tự của nguồn."
CMND = re.compile(r"chứng minh nhân dân|\bCMND\b", re.IGNORECASE)
_DISTRICT_BODY = re.compile(r"\b(?:cấp huyện|huyện, thành phố|quận, huyện|huyện)\b", re.IGNORECASE)
_BODY = (r"(?:Ủy ban nhân dân|UBND|Sở|Cục|Chi cục|Công an|Bảo hiểm xã hội|Trung tâm|Ngân hàng|Phòng|"
         r"Bộ phận [Mm]ột cửa|Cơ quan|Văn phòng|Ban)")
_SUBMIT_TO = re.compile(
    r"(?:nộp|gửi)(?: \d+)?(?: bộ)?(?: hồ sơ)?(?: trực tiếp)?(?: hoặc qua [^.;]{0,40}?)? (?:tại|đến|cho|về) "
    rf"({_BODY}[^.;,:()\n]{{2,90}}?)(?= hoặc | bằng | thông qua | cùng | để | kèm |[.;,:()\n]|$)"
)


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
    editor_notes: list[str] = list(procedure.editor_notes)
    unverified: list[str] = list(procedure.unverified)
    agency, note = reform_agency(procedure.agency, procedure.levels)
    if note:
        updates["agency"] = agency
        notes.append(note)
        unverified.append("agency")
        repairs.append("agency: district-level body replaced by the record's own level")
    if not procedure.agency and (found := agency_from_steps(steps_text)):
        updates["agency"] = found
        editor_notes.append(NOTE_AGENCY_FROM_STEPS)
        unverified.append("agency")
        repairs.append("agency: taken from the steps")
    if any(CMND.search(d.name) for case in procedure.documents for d in case.documents):
        notes.append(NOTE_CMND)
    limits = [c.time_limit for c in procedure.channels if c.time_limit]
    timed = [limit for limit in limits if limit.value is not None or limit.note or limit.by_case]
    stages = stage_times(steps_text)
    if procedure.channels and not timed and (stated_time(steps_text) or stages):
        # The overall time the steps state; else the stages they time, said to be only that.
        limit = stated_time(steps_text) or TimeLimit(note=NOTE_STAGES + "; ".join(stages[:4]))
        updates["channels"] = [c.model_copy(update={"time_limit": limit}) for c in procedure.channels]
        editor_notes.append(NOTE_TIME_FROM_STEPS)
        unverified.append("time_limit")
        repairs.append("time: stated only in the steps")
    if is_police_bhyt(procedure, ministry):
        updates["name"] = procedure.name + POLICE_SUFFIX
        updates["summary"] = (
            "Cấp thẻ BHYT cho đối tượng do Công an nhân dân quản lý (không áp dụng cho người dân)."
        )
        notes.insert(0, NOTE_POLICE_BHYT)
        repairs.append("name: marked as the police-force version")

    # What the importer had to guess is for the catalogue's editors; the card marks the fact itself.
    limits = [c.time_limit for c in procedure.channels if c.time_limit]
    if any(limit.unit_inferred for limit in limits):
        editor_notes.append(NOTE_UNIT_INFERRED)
        unverified.append("time_limit")
        repairs.append("time: unit added to a bare number")
    time_problems = [p for p in problems.get("channels", []) if "no time limit" in p]
    if procedure.channels and len(time_problems) >= len(procedure.channels):
        editor_notes.append(NOTE_NO_TIME)
    if any("no clear unit" in p or "glued" in p for p in problems.get("channels", [])):
        editor_notes.append(NOTE_FEE_UNCLEAR)
        unverified.append("fees")
    updates["notes"] = list(dict.fromkeys(notes))
    updates["editor_notes"] = list(dict.fromkeys(editor_notes))
    updates["unverified"] = list(dict.fromkeys(unverified))
    updates["performers"] = infer_performers(procedure)
    return ImportedRecord(procedure.model_copy(update=updates), problems, repairs)


def reform_agency(agency: str | None, levels: list[str]) -> tuple[str | None, str | None]:
    """A district-level body after the two-level reform: dropped when the record also names a body
    of another level, else named at the record's own level ('Công an huyện', Cấp xã → 'Công an cấp xã').
    Returns (agency, citizen note), the note None when nothing changed."""
    if not agency or not _DISTRICT_BODY.search(agency):
        return agency, None
    items = [item.strip() for item in re.split(r",\s*(?=[A-ZĐ])", agency) if item.strip()]
    others = [item for item in items if not _DISTRICT_BODY.search(item)]
    lowered = [level.lower() for level in levels]
    level = "cấp xã" if "cấp xã" in lowered else "cấp tỉnh" if "cấp tỉnh" in lowered else None
    if others:
        new = ", ".join(others)
        return new, f"Nguồn còn ghi “{agency}”; từ 01/7/2025 không còn cấp huyện, nơi giải quyết là: {new}."
    if level:
        new = ", ".join(_DISTRICT_BODY.sub(level, item) for item in items)
        return new, (
            f"Nguồn ghi “{agency}”; từ 01/7/2025 không còn cấp huyện; theo cấp thực hiện nguồn ghi "
            f"({level}), nơi giải quyết là: {new}."
        )
    return agency, None


def agency_from_steps(steps_text: str | None) -> str | None:
    """The body the steps say the dossier goes to ('nộp hồ sơ tại Sở Tư pháp …'), when one is named."""
    found = list(dict.fromkeys(m.group(1).strip() for m in _SUBMIT_TO.finditer(one_line(steps_text) or "")))
    return found[0] if len(found) == 1 else None


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
