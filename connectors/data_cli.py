"""`tthc data purge|export|delete`: the retention by hand, and a citizen's right to see or erase data."""

from __future__ import annotations

import json
from pathlib import Path

import typer

data_app = typer.Typer(
    help="Citizens' data: retention (TTHC_RETENTION_DAYS), export and erasure of one conversation.",
    no_args_is_help=True,
)
SENDER_HELP = "The conversation's sender id: the widget's id, or zalo:<Zalo user id>."


def _open():  # type: ignore[no-untyped-def]
    from connectors.db import Database
    from connectors.retention import tracker_database_url
    from connectors.settings import AppSettings

    settings = AppSettings.from_env()
    database = Database(settings.database_url)
    database.upgrade()
    return settings, database, tracker_database_url(settings)


def _summary(deleted: dict[str, int]) -> str:
    return ", ".join(f"{table}: {count}" for table, count in deleted.items()) or "nothing"


@data_app.command("purge")
def purge() -> None:
    """Delete conversations, feedback and reports older than TTHC_RETENTION_DAYS (the app does it too)."""
    from connectors import retention

    settings, database, _ = _open()
    try:
        deleted = retention.purge(settings, database)
    finally:
        database.dispose()
    typer.echo(f"Older than {settings.retention_days:g} days, deleted: {_summary(deleted)}")


@data_app.command("export")
def export(
    sender_id: str = typer.Argument(..., help=SENDER_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the JSON here (stdout else)."),
) -> None:
    """Everything stored about one conversation, as JSON: the app's tables and Rasa's tracker events."""
    from connectors import personal_data

    _, database, tracker_url = _open()
    try:
        data = personal_data.export(database, tracker_url, sender_id)
    finally:
        database.dispose()
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if output is None:
        typer.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    output.chmod(0o600)
    found = sum(len(rows) for rows in data["app"].values()) + len(data["tracker_events"])
    typer.echo(f"{found} records of {sender_id} written to {output}", err=True)


@data_app.command("delete")
def delete(
    sender_id: str = typer.Argument(..., help=SENDER_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Erase one conversation from the app's database and Rasa's tracker store."""
    from connectors import personal_data

    if not yes and not typer.confirm(f"Erase everything stored about {sender_id}?"):
        raise typer.Exit(1)
    _, database, tracker_url = _open()
    try:
        deleted = personal_data.delete(database, tracker_url, sender_id)
    finally:
        database.dispose()
    typer.echo(f"Erased {sender_id}: {_summary(deleted)}")
