"""``witness serve``, ``witness key``: this station as a C2SP witness for others."""

from __future__ import annotations

import click

from evidence_station.cli.context import AppContext


@click.group("witness")
def witness_group() -> None:
    """Cosign other stations' checkpoints (C2SP tlog-witness). 证人：为其他站点的检查点联署。"""


@witness_group.command("key")
@click.pass_obj
def key_command(app: AppContext) -> None:
    """Print the witness's verifier key (made on first use) for the stations' [witness] keys.
    打印证人公钥。"""
    from evidence_station.witness.keys import witness_cosigner

    app.echo(witness_cosigner(app.data_dir, app.config.witness_server.name).verifier.encode())


@witness_group.command("serve")
@click.option("--host", default=None, help="Listen address (default from [witness_server]). 监听地址。")
@click.option("--port", type=int, default=None,
              help="Port (default from [witness_server]; 0 picks a free one). 端口。")
@click.pass_obj
def serve_command(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve POST /add-checkpoint for the logs in [witness_server] logs. 运行证人服务。"""
    from evidence_station.witness.server import serve
    from evidence_station.witness.service import load_witness

    settings = app.config.witness_server
    witness = load_witness(app.data_dir, settings.logs, settings.name, app.clock)
    serve(witness, host or settings.host, settings.port if port is None else port)


def register(group: click.Group) -> None:
    group.add_command(witness_group)
