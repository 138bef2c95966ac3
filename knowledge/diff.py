"""`tthc catalogue diff OLD NEW`: what a rebuild changed, fact by fact, for a reviewer.

Each record is flattened to fact paths ("channels[truc_tiep].fees[0].amount"); channels are keyed
by their kind so that a channel added before another does not renumber every fact after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from knowledge.schema import Procedure


def flatten(value: Any, path: str = "") -> dict[str, str]:
    """Fact path → the fact as compact JSON."""
    if isinstance(value, dict):
        facts: dict[str, str] = {}
        for key, item in value.items():
            facts.update(flatten(item, f"{path}.{key}" if path else key))
        return facts
    if isinstance(value, list):
        if not value:
            return {path: "[]"}
        facts = {}
        for index, item in enumerate(value):
            key = item.get("kind") if isinstance(item, dict) and "kind" in item else index
            facts.update(flatten(item, f"{path}[{key}]"))
        return facts
    return {path: json.dumps(value, ensure_ascii=False)}


@dataclass
class RecordChange:
    code: str
    name: str
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (path, old, new)
    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def facts(self) -> int:
        return len(self.changed) + len(self.added) + len(self.removed)


@dataclass
class CatalogueDiff:
    added: list[Procedure] = field(default_factory=list)
    removed: list[Procedure] = field(default_factory=list)
    changed: list[RecordChange] = field(default_factory=list)

    def render(self, limit: int | None = None) -> str:
        lines = [f"+ {proc.code} (new record) {proc.name}" for proc in self.added]
        lines += [f"- {proc.code} (removed) {proc.name}" for proc in self.removed]
        for change in self.changed:
            lines.append(f"~ {change.code} {change.name}")
            facts = [f"    {path}: {old} → {new}" for path, old, new in change.changed]
            facts += [f"    + {path}: {new}" for path, new in change.added]
            facts += [f"    - {path}: {old}" for path, old in change.removed]
            lines += facts[:limit] if limit else facts
            if limit and len(facts) > limit:
                lines.append(f"    … and {len(facts) - limit} more facts")
        total = sum(change.facts for change in self.changed)
        lines.append(
            f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed "
            f"({total} facts)"
        )
        return "\n".join(lines)


def diff_records(old: Procedure, new: Procedure) -> RecordChange:
    before, after = flatten(old.model_dump(mode="json")), flatten(new.model_dump(mode="json"))
    change = RecordChange(new.code, new.name)
    for path in sorted(before.keys() | after.keys()):
        if path not in after:
            change.removed.append((path, before[path]))
        elif path not in before:
            change.added.append((path, after[path]))
        elif before[path] != after[path]:
            change.changed.append((path, before[path], after[path]))
    return change


def diff_catalogues(old: dict[str, Procedure], new: dict[str, Procedure]) -> CatalogueDiff:
    diff = CatalogueDiff(
        added=[new[code] for code in sorted(new.keys() - old.keys())],
        removed=[old[code] for code in sorted(old.keys() - new.keys())],
    )
    for code in sorted(old.keys() & new.keys()):
        if old[code] != new[code]:
            diff.changed.append(diff_records(old[code], new[code]))
    return diff
