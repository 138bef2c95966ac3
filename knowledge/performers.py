"""Who files a procedure (citizen, household, business, organisation, official body), inferred from
the audience text of an imported record ("Công dân Việt Nam, Doanh nghiệp, Tổ chức (không bao gồm
doanh nghiệp, HTX)…") and, where the source names no audience, from its name and field."""

from __future__ import annotations

import re

from knowledge.schema import Performer, Procedure

_EXCLUSION = re.compile(r"\(\s*không bao gồm[^)]*\)", re.IGNORECASE)
_AUDIENCE = (
    (Performer.citizen,
     re.compile(r"công dân|cá nhân|người việt nam|người nước ngoài|người dân|người lao động", re.I)),
    (Performer.household, re.compile(r"hộ gia đình", re.I)),
    (Performer.business, re.compile(r"doanh nghiệp|hợp tác xã|\bhtx\b|hộ kinh doanh|nhà đầu tư", re.I)),
    (Performer.organisation, re.compile(r"tổ chức|đơn vị sự nghiệp|hội\b|cơ sở", re.I)),
    (Performer.official_body,
     re.compile(r"cơ quan nhà nước|cán bộ|công chức|viên chức|đảng viên|ủy ban nhân dân", re.I)),
)
# From the name and field, when the source names no audience (the Vĩnh Bảo handbook).
_BY_NAME = (
    (re.compile(r"hộ kinh doanh|doanh nghiệp|cửa hàng|kinh doanh", re.I), (Performer.business,)),
    (re.compile(r"thành lập hội|ban vận động|lễ hội|quỹ xã hội", re.I), (Performer.organisation,)),
    (re.compile(r"hộ nghèo|hộ cận nghèo|hộ làm nông nghiệp|đất đai|quyền sử dụng đất", re.I),
     (Performer.household, Performer.citizen)),
)


def infer_performers(procedure: Procedure) -> list[Performer]:
    """The performers a record names, or those its audience (else its name and field) implies."""
    if procedure.performers:
        return list(procedure.performers)
    audience = _EXCLUSION.sub(" ", procedure.audience or "")
    found = [performer for performer, pattern in _AUDIENCE if pattern.search(audience)]
    if found:
        return found
    text = f"{procedure.name} {procedure.field or ''}"
    for pattern, performers in _BY_NAME:
        if pattern.search(text):
            return list(performers)
    return [Performer.citizen]  # handbook and crawl procedures without audience are citizens' services


def serves_citizens(performers: list[Performer]) -> bool:
    return Performer.citizen in performers or Performer.household in performers
