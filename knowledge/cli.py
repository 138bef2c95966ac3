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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
