"""The typed shape of one administrative procedure (thủ tục hành chính) in the catalogue.

Every fact the assistant shows a citizen comes from one of these records, and every record
carries its source. Field names are the public JSON contract (`tthc show CODE --json`).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class ChannelKind(StrEnum):
    """One way of filing a dossier."""

    truc_tiep = "truc_tiep"  # in person
    truc_tuyen = "truc_tuyen"  # online (National Public Service Portal / VNeID)
    buu_chinh = "buu_chinh"  # by post (dịch vụ bưu chính công ích)

    @property
    def label(self) -> str:
        return {"truc_tiep": "Trực tiếp", "truc_tuyen": "Trực tuyến", "buu_chinh": "Bưu chính"}[
            self.value
        ]


class Performer(StrEnum):
    """Who files a procedure."""

    citizen = "citizen"
    household = "household"
    business = "business"
    organisation = "organisation"
    official_body = "official_body"


class TimeUnit(StrEnum):
    ngay_lam_viec = "ngày làm việc"
    ngay = "ngày"
    gio = "giờ"
    gio_lam_viec = "giờ làm việc"
    thang = "tháng"
    nam = "năm"


class TimeLimit(_Model):
    """How long the authority may take. `value` is None when the source gives no figure."""

    value: float | None = None
    unit: TimeUnit | None = None
    note: str | None = Field(None, description="Qualifier from the source, e.g. 'kể từ ngày nhận đủ hồ sơ'")
    unit_inferred: bool = Field(
        False, description="True when the source gave a bare number and the importer added the unit"
    )
    by_case: list[str] = Field(
        default_factory=list,
        description="When the time depends on the case: each case's time limit as the source states it",
    )

    def text(self) -> str:
        if self.value is None:
            return self.note or "Không có thông tin"
        number = int(self.value) if float(self.value).is_integer() else self.value
        return f"{number} {self.unit.value if self.unit else ''}".strip()


class Fee(_Model):
    """One fee or charge rule. `amount` is in whole units of `currency` (đồng for VND)."""

    amount: int | None = Field(None, description="None when the amount is not a single figure")
    currency: str = "VND"
    per: str | None = Field(None, description="What the amount is charged for, e.g. 'lần', 'thẻ', 'trang'")
    note: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    set_by_province: bool = Field(
        False, description="Set by each province's People's Council (HĐND): no national figure"
    )
    conditional: bool = Field(
        False, description="Only for those who meet a condition (an exemption or reduction for some people): "
        "shown beside the standing fee, never in its place"
    )

    def in_force(self, on: date) -> bool:
        if self.valid_from and on < self.valid_from:
            return False
        return not (self.valid_to and on > self.valid_to)


class Channel(_Model):
    kind: ChannelKind
    time_limit: TimeLimit | None = None
    fees: list[Fee] = Field(default_factory=list)
    description: str | None = None

    def fees_in_force(self, on: date) -> list[Fee]:
        """The fee rules that apply on a date: a time-bounded rule replaces the standing one, and the
        conditional rules in force come after them."""
        current = [fee for fee in self.fees if fee.in_force(on)]
        general = [fee for fee in current if not fee.conditional]
        bounded = [fee for fee in general if fee.valid_from or fee.valid_to]
        return (bounded or general) + [fee for fee in current if fee.conditional]


class OnlineService(_Model):
    level: str | None = Field(None, description="'toàn trình', 'một phần', or None if not online")
    url: str | None = Field(None, description="Where to file online (portal or VNeID)")


class Document(_Model):
    name: str
    form: str | None = Field(None, description="Form code, e.g. CT01, TK01, CC01")
    form_file: str | None = Field(None, description="File name of the form as published")
    originals: int | None = None
    copies: int | None = None
    condition: str | None = Field(None, description="When this paper is needed")
    present_only: bool = Field(False, description="Shown (xuất trình) rather than handed in")


class DocumentCase(_Model):
    """Documents for one case (trường hợp). `case` None means it applies to everyone."""

    case: str | None = None
    documents: list[Document] = Field(default_factory=list)


class LegalRef(_Model):
    code: str | None = Field(None, description="Document number, e.g. 68/2020/QH14")
    title: str


class Source(_Model):
    url: str | None = None
    decision: str | None = Field(None, description="The decision that published the procedure")
    verified: date | None = Field(None, description="When a person last checked the record")
    origin: str = Field("dvcqg", description="dvcqg, bqp or curated")


class Procedure(_Model):
    code: str = Field(description="National TTHC code, e.g. 1.001193")
    name: str
    aliases: list[str] = Field(default_factory=list, description="What citizens call it")
    summary: str | None = Field(None, description="One plain sentence on what it is for")
    field: str | None = None
    levels: list[str] = Field(default_factory=list)
    agency: str | None = None
    audience: str | None = None
    channels: list[Channel] = Field(default_factory=list)
    online: OnlineService = Field(default_factory=OnlineService)
    documents: list[DocumentCase] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)
    result: list[str] = Field(default_factory=list)
    legal_basis: list[LegalRef] = Field(default_factory=list)
    linked: list[str] = Field(default_factory=list, description="Codes of linked procedures")
    source: Source
    curated: bool = False
    notes: list[str] = Field(default_factory=list, description="Caveats for the citizen, shown on the card")
    editor_notes: list[str] = Field(
        default_factory=list,
        description="Notes for catalogue editors about the source ('Nguồn không ghi…', 'Cần kiểm tra…'); "
        "never rendered for a citizen",
    )
    unverified: list[str] = Field(
        default_factory=list,
        description="Procedure fields (fees, channels, documents, agency, legal_basis, time_limit …) whose "
        "facts were not checked against a cited source; the card says 'chưa xác minh' beside them",
    )
    performers: list[Performer] = Field(default_factory=list, description="Who files the procedure")

    def channel(self, kind: ChannelKind) -> Channel | None:
        return next((c for c in self.channels if c.kind == kind), None)
