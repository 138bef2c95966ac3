"""Settings for the knowledge layer, read from environment variables with working defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Vietnam's time (UTC+7, no daylight saving): the day a fee is in force, a report is dated or a window
# of statistics counts is the Vietnamese day, whatever the server's own clock zone.
VIETNAM = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


def vietnam_today(now: datetime | None = None) -> date:
    """The calendar day in Vietnam at ``now`` (an aware moment; the current time by default)."""
    return (now or datetime.now(UTC)).astimezone(VIETNAM).date()


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    shared_dir: Path
    var_dir: Path
    embedding_model: str
    index_dir: Path
    today_override: date | None

    @property
    def data_dir(self) -> Path:
        return self.shared_dir / "data"

    @property
    def curated_dir(self) -> Path:
        return PROJECT_ROOT / "knowledge" / "curated"

    @property
    def search_aliases_file(self) -> Path:
        """What citizens call imported procedures (search vocabulary), merged into them at the build."""
        return PROJECT_ROOT / "knowledge" / "search_aliases.yaml"

    @property
    def catalogue_file(self) -> Path:
        """The built catalogue committed with the project (the export format, gzipped)."""
        return PROJECT_ROOT / "knowledge" / "data" / "catalogue.jsonl.gz"

    @property
    def models_dir(self) -> Path:
        return self.var_dir / "models"

    def today(self, now: datetime | None = None) -> date:
        """The day whose rules apply (fees in force): ``TTHC_TODAY`` if set, else the day in Vietnam."""
        return self.today_override or vietnam_today(now)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    var_dir = _path("TTHC_VAR_DIR", PROJECT_ROOT / "var")
    today = os.environ.get("TTHC_TODAY")
    return Settings(
        shared_dir=_path("TTHC_SHARED_DIR", PROJECT_ROOT.parent / "shared"),
        var_dir=var_dir,
        embedding_model=os.environ.get(
            "TTHC_EMBEDDING_MODEL", str(var_dir / "models" / "multilingual-e5-small")
        ),
        index_dir=_path("TTHC_INDEX_DIR", var_dir / "index"),
        today_override=date.fromisoformat(today) if today else None,
    )
