"""``witness serve``: the witness over HTTP (C2SP tlog-witness).

``POST /add-checkpoint`` and ``GET /<origin hash>/checkpoint``; the submission and the
monitoring prefix are both the server's root. Plain Starlette (already a dependency of
the web UI) under uvicorn, with HTTP keep-alive as the spec recommends. The endpoint is a
sync function: Starlette runs it in a worker thread, and the witness's state lock and
SQLite's ``BEGIN IMMEDIATE`` serialise the check-and-update.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evidence_station.witness.protocol import ADD_CHECKPOINT_PATH, MAX_BODY
from evidence_station.witness.service import Answer, Witness


def create_app(witness: Witness) -> Starlette:
    def respond(answer: Answer) -> Response:
        return Response(answer.body.encode(), status_code=answer.status,
                        media_type=answer.content_type)

    async def add_checkpoint(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return respond(Answer(400, "request body too large\n"))
        from starlette.concurrency import run_in_threadpool

        return respond(await run_in_threadpool(witness.add_checkpoint, body))

    async def checkpoint(request: Request) -> Response:
        return respond(witness.latest(str(request.path_params["origin_hash"])))

    return Starlette(routes=[
        Route(ADD_CHECKPOINT_PATH, add_checkpoint, methods=["POST"]),
        Route("/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
    ])


def serve(witness: Witness, host: str, port: int, **uvicorn_options: Any) -> None:
    """Bind first, print the address (``--port 0`` picks a free one: tests read it), then
    serve until stopped."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    print(f"witness {witness.cosigner.verifier.encode()} listening on http://{host}:{bound}",
          flush=True)
    print(f"证人服务 listening on http://{host}:{bound}", file=sys.stderr, flush=True)
    config = uvicorn.Config(create_app(witness), log_level="warning", **uvicorn_options)
    uvicorn.Server(config).run(sockets=[sock])
