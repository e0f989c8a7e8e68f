"""``web``."""

from __future__ import annotations

import click

from evidence_station.cli.context import AppContext


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep it local unless a TLS proxy is in front.")
@click.option("--port", default=8080, show_default=True, type=int)
@click.pass_obj
def web_command(app: AppContext, host: str, port: int) -> None:
    """Run the local web UI: clerk queue and labelling, review queue, auditor ledger page,
    admin users and dock status. Log in with an account from `user add`.

    本地网页界面：书记员标注、待复核、审计账本、用户与接入口管理。"""
    import uvicorn

    from evidence_station.web.app import create_app

    with app.reading():
        pass  # a clear error now if the data dir is not initialised
    # uvicorn's own proxy handling would believe X-Forwarded-For from 127.0.0.1, i.e. from
    # every local client; the app decides that itself from [web] trusted_proxies
    uvicorn.run(create_app(app.data_dir, app.config), host=host, port=port, log_level="info",
                proxy_headers=False)


def register(group: click.Group) -> None:
    group.add_command(web_command)
