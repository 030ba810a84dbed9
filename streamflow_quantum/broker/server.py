"""The broker over HTTP (aiohttp), embedded in `streamflow run` or standalone (`sfq serve`)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.core import Broker, UnknownProgram, client_id

logger = logging.getLogger(__name__)

_BROKER = web.AppKey("broker", Broker)


def _client(request: web.Request) -> str:
    key = request.headers.get(protocol.CLIENT_HEADER, "")
    if len(key) < 16:
        raise web.HTTPBadRequest(
            text=f"send a random client key of at least 16 characters in {protocol.CLIENT_HEADER}"
        )
    return client_id(key)


async def _submit(request: web.Request) -> web.Response:
    client = _client(request)
    try:
        body = await request.json()
        items = body["programs"]
        if not isinstance(items, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest(text='the body must be JSON {"programs": [...]}') from None
    programs = await asyncio.gather(
        *(asyncio.to_thread(protocol.decode_program, item) for item in items)
    )
    receipts = await request.app[_BROKER].submit(client, programs)
    return web.json_response({"programs": receipts})


async def _result(request: web.Request) -> web.Response:
    client = _client(request)
    try:
        wait = min(float(request.query.get("wait", protocol.LONG_POLL_S)), protocol.LONG_POLL_S)
    except ValueError:
        raise web.HTTPBadRequest(text="wait must be a number of seconds") from None
    try:
        record = await request.app[_BROKER].result(client, request.match_info["id"], wait)
    except UnknownProgram:
        raise web.HTTPNotFound(text="no such program for this client") from None
    if record is None:
        return web.json_response({"status": "pending"}, status=202)
    return web.json_response(record)


async def _info(request: web.Request) -> web.Response:
    return web.json_response(request.app[_BROKER].info())


def make_app(broker: Broker, secret: str) -> web.Application:
    expected = protocol.bearer(secret).encode()

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get(protocol.SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            raise web.HTTPUnauthorized(
                text="missing or wrong broker secret (set SFQ_BROKER_SECRET)"
            )
        return await handler(request)

    app = web.Application(middlewares=[authenticate], client_max_size=64 * 2**20)
    app[_BROKER] = broker
    app.add_routes(
        [
            web.get(f"{protocol.API}/info", _info),
            web.post(f"{protocol.API}/programs", _submit),
            web.get(f"{protocol.API}/programs/{{id}}", _result),
        ]
    )
    return app


class BrokerServer:
    """A broker listening on ``host:port`` (port 0: a free one)."""

    def __init__(self, broker: Broker, secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        if not secret:
            raise ValueError("the broker needs a shared secret")
        self.broker = broker
        self._runner = web.AppRunner(make_app(broker, secret), access_log=None)
        self._host, self._port = host, port
        self.url = ""

    async def start(self) -> str:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = site._server.sockets[0].getsockname()[:2]  # the port actually bound
        self.url = f"http://{host}:{port}"
        self.broker.start()
        logger.info("vQPU broker for %s listening on %s", self.broker.backend.name, self.url)
        return self.url

    async def close(self) -> None:
        await self._runner.cleanup()
        await self.broker.close()
