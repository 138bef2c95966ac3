"""The procedure catalogue: every imported record, overridden by the curated YAML records.

The built catalogue ships with the project as open data: `knowledge/data/catalogue.jsonl.gz`, one
record per line in the `tthc show --json` shape, sorted by code. The app and the search index load
that file; the raw data beside the project is needed only to rebuild it (`tthc catalogue build`).
Curated records are read on every load and laid over the committed records (they are few and are
being edited) and validated strictly: a bad file stops the load with its file name.

Building from the raw data runs every importer of `IMPORTERS`; the imported part is cached under
`settings.var_dir`, keyed by a hash of the raw files and the importer code. The imported records have
no citizen wording of their own: `knowledge/search_aliases.yaml` gives some of them aliases (search
vocabulary, never shown as a fact), merged in at the build.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import pickle
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from knowledge.config import Settings, get_settings
from knowledge.importers import bqp, dvcqg, vinhbao
from knowledge.importers.common import ImportedRecord
from knowledge.performers import infer_performers
from knowledge.schema import Procedure

logger = logging.getLogger(__name__)

CACHE_VERSION = "2"
# Every importer: a module with `iter_files(data_dir) -> list[Path]` and
# `load_file(path) -> ImportedRecord | list[ImportedRecord]`. Adding an importer is one line here.
IMPORTERS: dict[str, ModuleType] = {
    "dvcqg": dvcqg,
    "bqp": bqp,
    "vinhbao": vinhbao,  # last: a national record keeps its own source
}
Source = Literal["auto", "committed", "raw"]
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_IMPORTER_DIR = Path(__file__).resolve().parent / "importers"


class CatalogueError(Exception):
    """The catalogue could not be built (missing data, a bad curated file)."""


@dataclass
class ImportReport:
    """What the importers met, per record: problems by field, and repairs made."""

    problems: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    repairs: dict[str, list[str]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)


@dataclass
class Catalogue:
    procedures: dict[str, Procedure]
    content_hash: str
    imported: ImportReport
    curated_codes: frozenset[str] = frozenset()

    def get(self, code: str) -> Procedure | None:
        return self.procedures.get(code.strip())

    def __getitem__(self, code: str) -> Procedure:
        return self.procedures[code]

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.strip() in self.procedures

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self.procedures.values())

    def __len__(self) -> int:
        return len(self.procedures)


def raw_files(settings: Settings) -> list[tuple[str, Path]]:
    data_dir = settings.data_dir
    return [(name, path) for name, module in IMPORTERS.items() for path in module.iter_files(data_dir)]


def curated_files(settings: Settings) -> list[Path]:
    directory = settings.curated_dir
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]) if directory.is_dir() else []


def _hash_files(paths: list[Path], digest: hashlib._Hash, root: Path | None = None) -> None:
    for path in paths:
        name = str(path.relative_to(root)) if root and path.is_relative_to(root) else path.name
        digest.update(name.encode())
        digest.update(path.read_bytes())


def import_hash(settings: Settings) -> str:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    _hash_files(sorted(_IMPORTER_DIR.glob("*.py")), digest)
    _hash_files([Path(__file__), Path(__file__).with_name("schema.py")], digest)
    _hash_files([path for _, path in raw_files(settings)], digest, settings.data_dir)
    return digest.hexdigest()


def import_all(settings: Settings) -> tuple[dict[str, Procedure], ImportReport]:
    """Run both importers over every raw record. A record that cannot be read stops the import."""
    files = raw_files(settings)
    if not files:
        raise CatalogueError(f"no raw procedure records under {settings.data_dir}")
    procedures: dict[str, Procedure] = {}
    report = ImportReport()
    for origin, path in files:
        try:
            loaded: ImportedRecord | list[ImportedRecord] = IMPORTERS[origin].load_file(path)
        except ValueError as error:
            raise CatalogueError(str(error)) from error
        for record in loaded if isinstance(loaded, list) else [loaded]:
            code = record.procedure.code
            if code in procedures:
                if origin != "vinhbao":  # the handbook repeats national records on purpose
                    logger.warning("duplicate code %s in %s; keeping the first", code, path)
                continue
            procedures[code] = record.procedure
            report.problems[code] = {key: value for key, value in record.problems.items() if value}
            report.repairs[code] = record.repairs
            report.origins[code] = origin
    return procedures, report


def _load_imported(settings: Settings, use_cache: bool) -> tuple[dict[str, Procedure], ImportReport, str]:
    key = import_hash(settings)
    cache = settings.var_dir / "cache" / f"catalogue-{key[:16]}.pickle"
    if use_cache and cache.exists():
        try:
            with cache.open("rb") as handle:
                procedures, report = pickle.load(handle)
            return procedures, report, key
        except Exception as error:  # a stale or truncated cache is rebuilt, never trusted
            logger.warning("ignoring unreadable catalogue cache %s: %s", cache, error)
    procedures, report = import_all(settings)
    if use_cache:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            for old in cache.parent.glob("catalogue-*.pickle"):
                if old != cache:
                    old.unlink(missing_ok=True)
            temporary = cache.with_suffix(f".{os.getpid()}.tmp")  # parallel loads never share a file
            with temporary.open("wb") as handle:
                pickle.dump((procedures, report), handle, protocol=pickle.HIGHEST_PROTOCOL)
            temporary.replace(cache)
        except OSError as error:
            logger.warning("could not write the catalogue cache: %s", error)
    return procedures, report, key


Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3)]
# As many as the index reads of a record (knowledge.index.MAX_PASSAGE_ALIASES): none is dropped unseen.
MAX_SEARCH_ALIASES = 12


class SearchAliasFile(BaseModel):
    """`knowledge/search_aliases.yaml`: imported procedure code -> what citizens call it."""

    model_config = ConfigDict(extra="forbid")
    records: dict[str, list[Alias]] = Field(default_factory=dict)


def load_search_aliases(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        return {}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        parsed = SearchAliasFile.model_validate(data or {})
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as error:
        raise CatalogueError(f"{path.name}: {error}") from error
    for code, aliases in parsed.records.items():
        if not aliases or len(aliases) > MAX_SEARCH_ALIASES:
            count = len(aliases)
            raise CatalogueError(f"{path.name}: {code} needs 1 to {MAX_SEARCH_ALIASES} aliases, has {count}")
    return parsed.records


def add_search_aliases(
    procedures: dict[str, Procedure], aliases: dict[str, list[str]], curated: Iterable[str], source: str
) -> dict[str, Procedure]:
    """The imported records with their search aliases added (after their own, without repeats).

    An alias for a code the import does not have, or for a curated record (whose YAML has its own
    aliases and replaces the imported record), is an error: it would silently do nothing."""
    curated = set(curated)
    merged = dict(procedures)
    for code, extra in aliases.items():
        if code in curated:
            raise CatalogueError(f"{source}: {code} is curated; write its aliases in its curated YAML")
        if code not in procedures:
            raise CatalogueError(f"{source}: no imported procedure has the code {code}")
        record = procedures[code]
        combined = list(dict.fromkeys([*record.aliases, *extra]))
        merged[code] = record.model_copy(update={"aliases": combined})
    return merged


def load_curated_file(path: Path) -> Procedure:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CatalogueError(f"{path.name}: cannot read YAML: {error}") from error
    if not isinstance(data, dict):
        raise CatalogueError(f"{path.name}: expected one procedure (a mapping), got {type(data).__name__}")
    if isinstance(data.get("code"), float | int):
        raise CatalogueError(f"{path.name}: quote the code (\"1.001193\"), YAML read it as a number")
    try:
        procedure = Procedure.model_validate(data)
    except ValidationError as error:
        raise CatalogueError(f"{path.name}: invalid procedure record:\n{error}") from error
    return procedure.model_copy(update={"curated": True, "performers": infer_performers(procedure)})


def _share_equal_parts(
    record: Procedure, shapes: dict[frozenset[str], set[str]], texts: dict[str, str]
) -> None:
    """Let the models of a record share what equals that of earlier records: their `model_fields_set`
    (pydantic keeps one set in every model object: 61,170 sets, 32 MiB for the catalogue, in 44 shapes)
    and their texts (the same sentence in many records, 9 MiB of copies). Only `exclude_unset` and
    `model_fields_set` read the sets, and nothing here does; `model_copy` copies a set before adding to
    it."""
    pending: list[BaseModel] = [record]
    while pending:
        model = pending.pop()
        shape = shapes.setdefault(frozenset(model.__pydantic_fields_set__), model.__pydantic_fields_set__)
        object.__setattr__(model, "__pydantic_fields_set__", shape)
        fields = model.__dict__
        for name, value in fields.items():
            if type(value) is str:
                fields[name] = texts.setdefault(value, value)
            elif isinstance(value, BaseModel):
                pending.append(value)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if type(item) is str:
                        value[index] = texts.setdefault(item, item)
                    elif isinstance(item, BaseModel):
                        pending.append(item)


def read_catalogue_file(path: Path) -> dict[str, Procedure]:
    """The records of a catalogue file in the export format (JSON lines, gzipped or not).

    Read line by line, and what a record has in common with earlier ones shared as soon as it is
    parsed: the heap freed while loading cannot be handed back when what stays is scattered through it
    (the whole text and its lines, 90 MB, then each record's own sets and copies). Measured after
    malloc_trim: 53 MiB RSS for the catalogue, against 106 read whole with nothing shared."""
    procedures: dict[str, Procedure] = {}
    shapes: dict[frozenset[str], set[str]] = {}
    texts: dict[str, str] = {}
    try:
        with path.open("rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gzipped else path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    procedure = Procedure.model_validate_json(line.decode("utf-8"))
                except ValidationError as error:
                    raise CatalogueError(f"{path}:{number}: invalid record:\n{error}") from error
                _share_equal_parts(procedure, shapes, texts)
                procedures[procedure.code] = procedure
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise CatalogueError(f"{path}: cannot read the catalogue file: {error}") from error
    return procedures


def _load_committed(path: Path) -> tuple[dict[str, Procedure], ImportReport, str]:
    procedures = read_catalogue_file(path)
    report = ImportReport(origins={code: proc.source.origin for code, proc in procedures.items()})
    return procedures, report, hashlib.sha256(path.read_bytes()).hexdigest()


def load_catalogue(
    settings: Settings | None = None, use_cache: bool = True, source: Source = "auto"
) -> Catalogue:
    """The catalogue. `source`: "committed" reads knowledge/data/catalogue.jsonl.gz, "raw" runs the
    importers over the raw data, "auto" (the default) takes the committed file when there is one."""
    settings = settings or get_settings()
    committed = settings.catalogue_file
    if source == "committed" or (source == "auto" and committed.is_file()):
        if not committed.is_file():
            raise CatalogueError(f"no committed catalogue at {committed}; run `tthc catalogue build`")
        procedures, report, key = _load_committed(committed)
        raw = False
    else:
        procedures, report, key = _load_imported(settings, use_cache)
        raw = True
    digest = hashlib.sha256(key.encode())
    curated: dict[str, Path] = {}
    overlay: list[Procedure] = []
    for path in curated_files(settings):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
        procedure = load_curated_file(path)
        if procedure.code in curated:
            first = curated[procedure.code].name
            raise CatalogueError(f"{path.name}: code {procedure.code} is already curated in {first}")
        curated[procedure.code] = path
        overlay.append(procedure)
    if raw:  # the committed file has them already
        aliases_file = settings.search_aliases_file
        aliases = load_search_aliases(aliases_file)
        if aliases:
            digest.update(aliases_file.read_bytes())
        procedures = add_search_aliases(procedures, aliases, curated, aliases_file.name)
    merged = dict(procedures)
    merged.update((procedure.code, procedure) for procedure in overlay)
    logger.debug("catalogue: %d imported, %d curated", len(procedures), len(curated))
    return Catalogue(
        procedures=merged,
        content_hash=digest.hexdigest(),
        imported=report,
        curated_codes=frozenset(curated),
    )


def export_line(procedure: Procedure) -> str:
    """One record as one line of JSON, in the `tthc show --json` shape."""
    return json.dumps(procedure.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


def export_lines(procedures: Iterable[Procedure]) -> Iterator[str]:
    """Every record as a JSON line, sorted by code: the catalogue as open data."""
    for procedure in sorted(procedures, key=lambda p: p.code):
        yield export_line(procedure)


def export_bytes(procedures: Iterable[Procedure]) -> bytes:
    """The export as deterministic gzip bytes (no file name, mtime 0): the committed file's format."""
    text = "".join(line + "\n" for line in export_lines(procedures))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def build_catalogue(settings: Settings | None = None, use_cache: bool = True) -> Catalogue:
    """The catalogue built from the raw data and the curated records (never from the committed file)."""
    return load_catalogue(settings, use_cache=use_cache, source="raw")


def write_catalogue_file(catalogue: Iterable[Procedure], path: Path) -> int:
    """Write the export to `path` atomically; returns the number of records."""
    procedures = list(catalogue)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(export_bytes(procedures))
    temporary.replace(path)
    return len(procedures)


_catalogue: Catalogue | None = None
_catalogue_lock = threading.Lock()


def get_catalogue() -> Catalogue:
    """The catalogue for this process, loaded once even when several threads ask at once (the action
    server's warm-up and its search index check both do: two copies would stay in its memory)."""
    global _catalogue
    if _catalogue is None:
        with _catalogue_lock:
            if _catalogue is None:
                _catalogue = load_catalogue()
    return _catalogue
