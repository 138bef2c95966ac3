"""The catalogue: all 2,849 raw records import, curated YAML overrides them, the cache is honest."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from knowledge import catalogue as catalogue_module
from knowledge.catalogue import Catalogue, CatalogueError, curated_files, load_catalogue, load_curated_file
from knowledge.config import Settings, get_settings
from knowledge.schema import ChannelKind

REAL = get_settings()
pytestmark = pytest.mark.skipif(not REAL.data_dir.is_dir(), reason="needs ../shared/data")


@dataclasses.dataclass(frozen=True)
class LocalSettings(Settings):
    """Settings with a curated folder of the test's choosing."""

    curated_override: Path | None = None
    aliases_override: Path | None = None

    @property
    def curated_dir(self) -> Path:
        return self.curated_override or super().curated_dir

    @property
    def search_aliases_file(self) -> Path:
        return self.aliases_override or super().search_aliases_file


def make_settings(var_dir: Path, curated: Path | None = None, aliases: Path | None = None) -> LocalSettings:
    return LocalSettings(
        shared_dir=REAL.shared_dir,
        var_dir=var_dir,
        embedding_model=REAL.embedding_model,
        index_dir=var_dir / "index",
        today_override=date(2026, 11, 23),
        curated_override=curated,
        aliases_override=aliases,
    )


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="module")
def catalogue(var_dir: Path) -> Catalogue:
    return load_catalogue(make_settings(var_dir), source="raw")


def test_every_raw_record_is_imported(catalogue: Catalogue):
    data = REAL.data_dir
    raw_codes = {p.stem for p in (data / "procedures-dvcqg" / "raw").glob("*/*.json")}
    raw_codes |= {p.stem for p in (data / "procedures-bqp" / "raw").glob("*.json")}
    assert len(raw_codes) == 2849
    handbook = json.loads((data / "procedures-vinhbao" / "raw" / "procedures.json").read_bytes())
    raw_codes |= {record["code"] for record in handbook}  # 15 codes the crawls lack
    assert len(raw_codes) == 2849 + 15
    assert set(catalogue.imported.problems) == raw_codes
    assert catalogue.imported.origins["1.013133"] == "bqp"
    assert catalogue.imported.origins["1.004222"] == "dvcqg"
    assert raw_codes <= {proc.code for proc in catalogue}
    assert len(catalogue) >= 2849


def test_lookup_iteration_and_unknown_codes(catalogue: Catalogue):
    assert catalogue.get("1.004222").code == "1.004222"
    assert catalogue.get(" 1.004222 ").code == "1.004222"
    assert "1.004222" in catalogue and "9.999999" not in catalogue and 42 not in catalogue
    assert catalogue.get("9.999999") is None
    assert sum(1 for _ in catalogue) == len(catalogue)


def test_curated_records_override_imported_ones(catalogue: Catalogue):
    files = curated_files(REAL)
    if not files:
        pytest.skip("no curated records yet")
    for path in files:
        curated = load_curated_file(path)
        assert catalogue.get(curated.code) == curated, path.name
        assert catalogue.get(curated.code).curated
    assert catalogue.curated_codes == {load_curated_file(p).code for p in files}


def test_fees_in_force_on_the_settings_date(catalogue: Catalogue):
    proc = catalogue.get("3.000347")
    channel = proc.channel(ChannelKind.truc_tiep)
    assert [fee.amount for fee in channel.fees_in_force(date(2026, 11, 23))] == [115_000]
    assert [fee.amount for fee in channel.fees_in_force(date(2025, 12, 31))] == [135_000]


def test_a_conditional_rule_stands_beside_the_fee_it_does_not_replace(catalogue: Catalogue):
    """Thông tư 117/2026 frees some citizens from the LLTP fee: the standing fee is still shown first."""
    channel = catalogue.get("3.000333").channel(ChannelKind.truc_tuyen)
    today = date(2026, 12, 1)
    fees = channel.fees_in_force(today)
    assert [fee.amount for fee in fees] == [200_000, 100_000, 5_000, 0] and fees[-1].conditional
    undated = [fee.model_copy(update={"valid_from": None}) for fee in channel.fees]
    standing_only = channel.model_copy(update={"fees": [*undated[:3], channel.fees[-1]]})
    assert [fee.amount for fee in standing_only.fees_in_force(today)] == [200_000, 100_000, 5_000, 0]
    unconditional = channel.fees[-1].model_copy(update={"conditional": False})
    replaced = channel.model_copy(update={"fees": [*undated[:3], unconditional]})
    assert [fee.amount for fee in replaced.fees_in_force(today)] == [0]
    assert [fee.amount for fee in replaced.fees_in_force(date(2027, 3, 1))] == [200_000, 100_000, 5_000]


def test_cache_is_written_and_reused(var_dir: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch):
    assert list((var_dir / "cache").glob("catalogue-*.pickle"))

    def must_not_import(_settings):
        raise AssertionError("the cached catalogue should have been used")

    monkeypatch.setattr(catalogue_module, "import_all", must_not_import)
    again = load_catalogue(make_settings(var_dir), source="raw")
    assert again.content_hash == catalogue.content_hash
    assert again.procedures == catalogue.procedures


def test_a_corrupt_cache_is_rebuilt_not_trusted(
    tmp_path: Path, var_dir: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
):
    shutil.copytree(var_dir / "cache", tmp_path / "cache")
    for cache in (tmp_path / "cache").glob("catalogue-*.pickle"):
        cache.write_bytes(b"not a pickle")
    calls = []

    def small_import(settings):
        # Stands in for the 2,849-record import: what matters here is that it runs again.
        calls.append(settings)
        return {"1.004222": catalogue.get("1.004222")}, catalogue_module.ImportReport({"1.004222": {}})

    monkeypatch.setattr(catalogue_module, "import_all", small_import)
    settings = make_settings(tmp_path, tmp_path / "no-curated", tmp_path / "no-aliases.yaml")
    rebuilt = load_catalogue(settings, source="raw")
    assert len(calls) == 1
    assert rebuilt.get("1.004222") == catalogue.get("1.004222")
    assert list((tmp_path / "cache").glob("catalogue-*.pickle"))


def test_content_hash_follows_the_curated_files(tmp_path: Path, var_dir: Path):
    curated = tmp_path / "curated"
    curated.mkdir()
    empty = load_catalogue(make_settings(var_dir, curated), source="raw")
    assert not empty.curated_codes
    (curated / "1.013133.yaml").write_text(
        'code: "1.013133"\nname: Đăng ký nghĩa vụ quân sự lần đầu\n'
        "source:\n  url: https://dichvucong.gov.vn\n  decision: 6375/QĐ-BQP\n  verified: 2026-11-20\n"
        "  origin: curated\n",
        encoding="utf-8",
    )
    one = load_catalogue(make_settings(var_dir, curated), source="raw")
    assert one.curated_codes == {"1.013133"}
    assert one.get("1.013133").curated and one.get("1.013133").source.verified == date(2026, 11, 20)
    assert one.content_hash != empty.content_hash
    assert len(one) == len(empty)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('code: "1.0"\nname: x\nsource: {}\nfees_typo: 3\n', "invalid procedure record"),
        ("- just\n- a list\n", "expected one procedure"),
        ("code: 1.001193\nname: x\nsource: {}\n", "quote the code"),
        ("code: [unclosed\n", "cannot read YAML"),
    ],
)
def test_a_bad_curated_file_fails_loudly_with_its_name(
    tmp_path: Path, var_dir: Path, content: str, message: str
):
    curated = tmp_path / "curated"
    curated.mkdir()
    (curated / "broken-record.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(CatalogueError, match=message) as error:
        load_catalogue(make_settings(var_dir, curated), source="raw")
    assert "broken-record.yaml" in str(error.value)


def test_two_curated_files_for_one_code_fail(tmp_path: Path, var_dir: Path):
    curated = tmp_path / "curated"
    curated.mkdir()
    record = 'code: "1.013133"\nname: x\nsource: {origin: curated}\n'
    (curated / "a.yaml").write_text(record, encoding="utf-8")
    (curated / "b.yaml").write_text(record, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"b\.yaml.*a\.yaml"):
        load_catalogue(make_settings(var_dir, curated), source="raw")


def test_search_aliases_are_added_to_the_imported_records_they_name(catalogue: Catalogue):
    aliases = catalogue_module.load_search_aliases(REAL.search_aliases_file)
    assert len(aliases) >= 100
    for code, extra in aliases.items():
        record = catalogue.get(code)
        assert record is not None and not record.curated, code
        assert record.aliases[-len(extra):] == extra, code
    # the imported "tách hộ" and "xóa đăng ký tạm trú" have citizens' words now; their curated
    # siblings keep their own aliases only
    assert "tách hộ khẩu" in catalogue.get("1.010038").aliases
    assert "xóa tạm trú" in catalogue.get("1.010028").aliases
    assert catalogue.get("1.003197").aliases == load_curated_file(REAL.curated_dir / "1.003197.yaml").aliases


def test_search_aliases_are_merged_after_the_record_s_own_without_repeats():
    record = load_curated_file(REAL.curated_dir / "1.004222.yaml").model_copy(update={"curated": False})
    first = record.aliases[0]
    merged = catalogue_module.add_search_aliases(
        {record.code: record}, {record.code: [first, "nhập hộ khẩu cho vợ"]}, (), "aliases.yaml"
    )
    assert merged[record.code].aliases == [*record.aliases, "nhập hộ khẩu cho vợ"]
    assert record.aliases[-1] != "nhập hộ khẩu cho vợ"  # the imported record itself is not changed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('records:\n  "9.999999": [làm giấy tờ gì đó]\n', "no imported procedure has the code 9.999999"),
        ('records:\n  "1.004222": [nhập hộ khẩu]\n', "1.004222 is curated"),
        ('records:\n  "1.010038": []\n', "needs 1 to 12 aliases"),
        ('record:\n  "1.010038": [tách hộ]\n', "Extra inputs"),
    ],
)
def test_a_search_alias_for_an_unknown_or_curated_code_stops_the_build(
    tmp_path: Path, var_dir: Path, content: str, message: str
):
    aliases = tmp_path / "search_aliases.yaml"
    aliases.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogueError, match=message) as error:
        load_catalogue(make_settings(var_dir, aliases=aliases), source="raw")
    assert "search_aliases.yaml" in str(error.value)


def test_missing_data_is_a_clear_error(tmp_path: Path):
    settings = dataclasses.replace(make_settings(tmp_path), shared_dir=tmp_path / "nowhere")
    with pytest.raises(CatalogueError, match="no raw procedure records"):
        load_catalogue(settings, use_cache=False, source="raw")


def test_the_process_catalogue_is_loaded_once_when_threads_ask_at_once(monkeypatch: pytest.MonkeyPatch):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    loads: list[int] = []
    started = threading.Barrier(4)

    def slow_load() -> object:
        loads.append(threading.get_ident())
        time.sleep(0.2)
        return object()

    monkeypatch.setattr(catalogue_module, "load_catalogue", slow_load)
    monkeypatch.setattr(catalogue_module, "_catalogue", None)

    def ask() -> object:
        started.wait()
        return catalogue_module.get_catalogue()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: ask(), range(4)))
    assert len(loads) == 1 and all(result is results[0] for result in results)
