"""`tthc catalogue report`: per field, how many imported records parsed cleanly, and which did not."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from knowledge.catalogue import Catalogue

FIELDS = ("channels", "time_limit", "fees", "documents", "legal_basis", "steps", "result")


def _field_of(source_field: str, problem: str) -> str:
    if source_field != "channels":
        return source_field
    if "time limit" in problem or "glued" in problem:
        return "time_limit" if "glued" not in problem else "fees"
    if "fee" in problem:
        return "fees"
    return "channels"


@dataclass
class FieldReport:
    name: str
    clean: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class CatalogueReport:
    total: int
    imported: int
    curated: int
    by_origin: Counter[str]
    fields: dict[str, FieldReport]
    repairs: Counter[str]

    def render(self, limit: int | None = None) -> str:
        origins = ", ".join(f"{origin} {count}" for origin, count in sorted(self.by_origin.items()))
        lines = [
            f"Catalogue: {self.total} procedures ({self.imported} imported: {origins}; "
            f"{self.curated} curated records override or add)",
            "",
            f"{'field':<12} {'clean':>6} {'of':>6} {'%':>6}  not clean",
        ]
        for report in self.fields.values():
            share = 100 * report.clean / self.imported if self.imported else 0.0
            failed = len(report.failures)
            lines.append(f"{report.name:<12} {report.clean:>6} {self.imported:>6} {share:>5.1f}%  {failed}")
        lines += ["", "Repairs made by the importers (records):"]
        lines += [f"  {count:>5}  {repair}" for repair, count in self.repairs.most_common()]
        for report in self.fields.values():
            if not report.failures:
                continue
            lines += ["", f"{report.name}: {len(report.failures)} records not parsed cleanly"]
            items = sorted(report.failures.items())
            for code, reasons in items[:limit] if limit else items:
                lines.append(f"  {code}: {'; '.join(dict.fromkeys(reasons))}")
            if limit and len(items) > limit:
                lines.append(f"  … and {len(items) - limit} more (use --limit 0 for all)")
        return "\n".join(lines)


def _repair_kind(repair: str) -> str:
    if repair.startswith("steps: moved"):
        return "steps: a phrase moved back into its step"
    return repair.split(" (", 1)[0]


def build_report(catalogue: Catalogue) -> CatalogueReport:
    imported = catalogue.imported
    fields = {name: FieldReport(name) for name in FIELDS}
    for code, problems in imported.problems.items():
        failing: dict[str, list[str]] = {}
        for source_field, reasons in problems.items():
            for reason in reasons:
                failing.setdefault(_field_of(source_field, reason), []).append(reason)
        for name, report in fields.items():
            if name in failing:
                report.failures[code] = failing[name]
            else:
                report.clean += 1
    repairs: Counter[str] = Counter()
    for records_repairs in imported.repairs.values():
        repairs.update({_repair_kind(r) for r in records_repairs})
    return CatalogueReport(
        total=len(catalogue),
        imported=len(imported.problems),
        curated=len(catalogue.curated_codes),
        by_origin=Counter(imported.origins.values()),
        fields=fields,
        repairs=repairs,
    )
