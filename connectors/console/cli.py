"""`tthc volunteer …` and `tthc db upgrade`: accounts of the volunteer console and the app's database."""

from __future__ import annotations

import sys

import typer

volunteer_app = typer.Typer(help="Volunteer console accounts.", no_args_is_help=True)
db_app = typer.Typer(
    help="The app's database (TTHC_DATABASE_URL, SQLite under var/ by default).", no_args_is_help=True
)


def _database():  # type: ignore[no-untyped-def]
    from connectors.db import Database
    from connectors.settings import AppSettings

    database = Database(AppSettings.from_env().database_url)
    database.upgrade()
    return database


def _read_password() -> str:
    if sys.stdin.isatty():
        first = typer.prompt("Mật khẩu", hide_input=True)
        if typer.prompt("Nhập lại mật khẩu", hide_input=True) != first:
            typer.echo("Hai lần nhập không khớp.", err=True)
            raise typer.Exit(2)
        return first
    return sys.stdin.readline().rstrip("\r\n")


@volunteer_app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name: lower-case letters, digits, '.', '_' or '-'."),
    name: str = typer.Option(..., "--name", help="Full name shown to citizens and colleagues."),
    role: str = typer.Option("volunteer", "--role", help="volunteer or coordinator."),
) -> None:
    """Create an account; the password is read from stdin (never from the command line)."""
    from connectors.console.auth import AccountError, add_volunteer

    password = _read_password()
    database = _database()
    try:
        with database.session() as session:
            volunteer = add_volunteer(session, username, name, role, password)
            typer.echo(f"Đã tạo tài khoản {volunteer.username} ({volunteer.role}): {volunteer.name}")
    except AccountError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    finally:
        database.dispose()


@volunteer_app.command("list")
def list_accounts() -> None:
    """Every account with its role and state."""
    from connectors.console.auth import list_volunteers

    database = _database()
    with database.session() as session:
        volunteers = list_volunteers(session)
        if not volunteers:
            typer.echo(
                "Chưa có tài khoản nào. Tạo điều phối viên đầu tiên: "
                "tthc volunteer add TEN --name … --role coordinator"
            )
        for volunteer in volunteers:
            state = "disabled" if volunteer.disabled else "active"
            typer.echo(f"{volunteer.username:<20} {volunteer.role:<12} {state:<9} {volunteer.name}")
    database.dispose()


@volunteer_app.command("disable")
def disable(username: str = typer.Argument(..., help="The account to disable.")) -> None:
    """Disable an account and end its sessions (the audit log keeps its history)."""
    from connectors.console.auth import AccountError, disable_volunteer

    database = _database()
    try:
        with database.session() as session:
            disable_volunteer(session, username)
        typer.echo(f"Đã vô hiệu hóa tài khoản {username}.")
    except AccountError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply the database migrations (the app also does it when it starts)."""
    database = _database()
    typer.echo(f"Database ({database.dialect}) at revision {database.revision()}")
    database.dispose()
