"""The curated records as the tests read them: one YAML file of ``knowledge/curated`` by its code."""

from __future__ import annotations

from knowledge.catalogue import load_curated_file
from knowledge.config import get_settings
from knowledge.schema import Procedure


def record(code: str) -> Procedure:
    """The curated record ``code`` (e.g. ``3.000333``, ``TL.luong-huu``), read from its file."""
    return load_curated_file(get_settings().curated_dir / f"{code}.yaml")
