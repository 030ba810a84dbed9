"""The broker over HTTP (aiohttp), embedded in `streamflow run` or standalone (`sfq serve`).

Every request that is malformed, before or after authentication, gets a 4xx with one
line that says why: headers that are not UTF-8, bodies that are not JSON (or nest too
deeply to parse), too large, or holding too many programs. Parsing runs in the
broker's own pool, never on the event loop.

Who may ask: the holders of one shared secret (the anonymous user), or, with a users
file (``broker/users.py``), each user by their own token, and the shared secret's
holders too when one is given. Programs and estimates belong to a user and a client key
together: another user never reads them, even with the same client key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.core import Broker, UnknownProgram, client_id
from streamflow_quantum.core.errors import ProgramError
from streamflow_quantum.core.limits import Limits
from streamflow_quantum.core.model import ANONYMOUS, Program, User, new_id

if TYPE_CHECKING:
    from streamflow_quantum.broker.users import UsersFile

logger = logging.getLogger(__name__)

_BROKER = web.AppKey("broker", Broker)
_USER = web.RequestKey("user", User)
#: Seconds a closing server waits for requests in flight (long polls answer at once).
SHUTDOWN_TIMEOUT_S = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _header_bytes(request: web.Request, name: str) -> bytes:
    """A header's bytes as sent: aiohttp keeps bytes that are not UTF-8 as surrogates."""
    return request.headers.get(name, "").encode("utf-8", "surrogateescape")


def _client(request: web.Request) -> str:
    """The client's id: a digest of its key, within its user's scope (the anonymous user's
    is the key alone, as kept by brokers before there were users)."""
    key = _header_bytes(request, protocol.CLIENT_HEADER)
    if not (
        protocol.MIN_CLIENT_KEY <= len(key) <= protocol.MAX_CLIENT_KEY
        and key.isascii()
        and key.decode("ascii").isprintable()
    ):
        raise web.HTTPBadRequest(
            text=f"send a random client key of {protocol.MIN_CLIENT_KEY} to "
            f"{protocol.MAX_CLIENT_KEY} printable ASCII characters in {protocol.CLIENT_HEADER}"
        )
    user = request[_USER]
    scope = "" if user is ANONYMOUS else user.name + "\0"  # no key holds a NUL
    return client_id(scope + key.decode("ascii"))


def _key(item: object) -> str | None:
    """A digest of a program's circuit file: twins share their compilation."""
    data = item.get("data") if isinstance(item, dict) else None
    return (
        hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()
        if isinstance(data, str)
        else None
    )


def _parse_body(
    raw: bytes, limits: Limits
) -> tuple[list[Program | ProgramError], list[str | None]]:
    """The programs of a submission body and their keys (in the broker's pool: parsing takes a while)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep
        raise protocol.RequestError('the body must be JSON {"programs": [...]}') from None
    items = protocol.program_items(body, limits)
    return [protocol.decode_program(item, limits) for item in items], [_key(i) for i in items]


async def _submit(request: web.Request) -> web.Response:
    client = _client(request)
    broker = request.app[_BROKER]
    raw = await request.read()  # at most client_max_size bytes, or 413
    try:
        programs, keys = await broker.offload(lambda: _parse_body(raw, broker.limits))
    except protocol.RequestError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    receipts = await broker.submit(client, programs, keys, user=request[_USER])
    return web.json_response({"programs": receipts})


def _wait(request: web.Request) -> float:
    try:
        wait = float(request.query.get("wait", protocol.LONG_POLL_S))
    except ValueError:
        wait = math.nan
    if not 0 <= wait < math.inf:
        raise web.HTTPBadRequest(text="wait must be a number of seconds, at least 0")
    return min(wait, protocol.LONG_POLL_S)


async def _result(request: web.Request) -> web.Response:
    client = _client(request)
    wait = _wait(request)
    try:
        record = await request.app[_BROKER].result(client, request.match_info["id"], wait)
    except UnknownProgram as e:
        error = (
            "no such program for this client"
            if e.reason == "not-yours"
            else "no such program: unknown to this broker, or expired"
        )
        raise web.HTTPNotFound(
            text=json.dumps({"error": error, "reason": e.reason}), content_type="application/json"
        ) from None
    if record is None:
        return web.json_response({"status": "pending"}, status=202)
    return web.json_response(record)


async def _info(request: web.Request) -> web.Response:
    return web.json_response(request.app[_BROKER].info())


async def _status(request: web.Request) -> web.Response:
    """The queue, the running batch and estimated starts (``sfq status``)."""
    return web.json_response(request.app[_BROKER].status())


# -- estimates: circuits cut, run and reconstructed in the broker (``sfq estimate``) ----

_ESTIMATES = web.AppKey("estimates", dict)


def _parse_estimate(body: object, limits: Limits) -> dict[str, Any]:
    """The estimate request's circuit, observables and options (in the broker's pool)."""
    from streamflow_quantum.broker.cutting import CuttingError, parse_observables
    from streamflow_quantum.core.circuits import load_circuit

    if not isinstance(body, dict):
        raise protocol.RequestError("the body must be a JSON object")
    # The wire checks of a program, then the circuit without asking for measurements.
    item = {k: body.get(k) for k in ("name", "data", "shots", "seed", "key")}
    try:
        name = protocol._name(item, limits)
        shots = protocol._integer(item, "shots", name, 1, limits.max_shots, " (maxShots)")
        seed = protocol._integer(item, "seed", name, 0, protocol.MAX_SEED, "")
        token = protocol._token(item, name)
        circuit = load_circuit(protocol._data(item, name, limits), name, limits, measured=False)
    except ProgramError as e:
        raise protocol.RequestError(str(e)) from None
    text = body.get("observables")
    if isinstance(text, list):
        text = json.dumps(text)
    if not isinstance(text, str):
        raise protocol.RequestError("observables must be text, or a list of lines")
    options: dict[str, Any] = {}
    for key, kind in (("max_width", int), ("max_overhead", float)):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise protocol.RequestError(f"{key} must be a number")
        options[key] = None if value is None else kind(value)
    try:
        observables = parse_observables(text)
    except CuttingError as e:
        raise protocol.RequestError(str(e)) from None
    return {
        "circuit": circuit,
        "name": name,
        "shots": shots,
        "seed": seed,
        "token": token,
        "observables": observables,
        **options,
    }


async def _estimate(
    broker: Broker, client: str, user: User, request: dict[str, Any]
) -> dict[str, Any]:
    """The estimate's result, or its one-line reason."""
    from streamflow_quantum.broker.cutting import CuttingError, estimate_on

    try:
        return await estimate_on(
            broker,
            client,
            request["circuit"],
            request["observables"],
            request["shots"],
            request["max_width"],
            request["max_overhead"],
            request["seed"],
            request["name"],
            user=user,
        )
    except (CuttingError, ProgramError) as e:
        return {"circuit": request["name"], "error": str(e)}


async def _submit_estimate(request: web.Request) -> web.Response:
    """Start an estimate (``{"name", "data", "observables", "shots", "seed", "max_width",
    "max_overhead", "key"}``); answers its id at once."""
    client = _client(request)
    broker = request.app[_BROKER]
    estimates: dict[str, tuple[str, asyncio.Task[dict[str, Any]]]] = request.app[_ESTIMATES]
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise web.HTTPBadRequest(text="the body must be a JSON object") from None
    try:
        parsed = await broker.offload(lambda: _parse_estimate(body, broker.limits))
    except protocol.RequestError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    token = parsed["token"]
    estimate_id = (
        "e-" + hashlib.sha256(f"{client}:{token}".encode()).hexdigest()[:24]
        if token is not None
        else new_id("e")
    )
    if estimate_id not in estimates:  # a retried submission: the same estimate
        task = asyncio.ensure_future(_estimate(broker, client, request[_USER], parsed))
        estimates[estimate_id] = (client, task)

        def forget(_: object) -> None:
            asyncio.get_running_loop().call_later(
                broker.settings["keepResults"], estimates.pop, estimate_id, None
            )

        task.add_done_callback(forget)
    return web.json_response({"id": estimate_id})


async def _estimate_result(request: web.Request) -> web.Response:
    client = _client(request)
    wait = _wait(request)
    found = request.app[_ESTIMATES].get(request.match_info["id"])
    if found is None or found[0] != client:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "no such estimate for this client, or expired"}),
            content_type="application/json",
        )
    task = found[1]
    try:
        return web.json_response(await asyncio.wait_for(asyncio.shield(task), wait))
    except asyncio.TimeoutError:  # the builtin TimeoutError from 3.11 on
        return web.json_response({"status": "pending"}, status=202)


async def _cancel_estimates(app: web.Application) -> None:
    """Estimates still running when the server closes end with it."""
    tasks = [task for _, task in app[_ESTIMATES].values() if not task.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)  # cancelled: nothing to report


def _authenticator(secret: str, users: UsersFile | None) -> Callable[[bytes], User | None]:
    """Who sends this ``Authorization`` header: a user, the anonymous holder of the shared
    secret, or None."""
    expected = protocol.bearer(secret).encode("utf-8", "surrogateescape") if secret else None
    prefix = protocol.bearer("").encode("ascii")

    def authenticate(header: bytes) -> User | None:
        user = None
        if users is not None and header.startswith(prefix):
            user = users.authenticate(header[len(prefix) :])
        if user is None and expected is not None and hmac.compare_digest(header, expected):
            user = ANONYMOUS
        return user

    return authenticate


def make_app(broker: Broker, secret: str, users: UsersFile | None = None) -> web.Application:
    """The broker's HTTP API for the holders of ``secret``, and ``users``' (either may be
    missing, not both)."""
    if not secret and users is None:
        raise ValueError("the broker needs a shared secret or a users file")
    who = _authenticator(secret, users)
    refusal = (
        "missing or wrong broker token (set SFQ_BROKER_SECRET to your token)"
        if users is not None
        else "missing or wrong broker secret (set SFQ_BROKER_SECRET)"
    )

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        user = who(_header_bytes(request, protocol.SECRET_HEADER))
        if user is None:
            raise web.HTTPUnauthorized(text=refusal)
        request[_USER] = user
        return await handler(request)

    app = web.Application(
        middlewares=[authenticate],
        client_max_size=protocol.max_request_bytes(broker.limits),
    )
    app[_BROKER] = broker
    app[_ESTIMATES] = {}
    app.on_cleanup.append(_cancel_estimates)
    app.add_routes(
        [
            web.get(f"{protocol.API}/info", _info),
            web.get(f"{protocol.API}/status", _status),
            web.post(f"{protocol.API}/programs", _submit),
            web.get(f"{protocol.API}/programs/{{id}}", _result),
            web.post(f"{protocol.API}/estimates", _submit_estimate),
            web.get(f"{protocol.API}/estimates/{{id}}", _estimate_result),
        ]
    )
    return app


class BrokerServer:
    """A broker listening on ``host:port`` (port 0: a free one), over TLS with ``ssl_context``,
    for the holders of ``secret`` and the ``users`` of a users file."""

    def __init__(
        self,
        broker: Broker,
        secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        users: UsersFile | None = None,
    ) -> None:
        self.broker = broker
        self._runner = web.AppRunner(
            make_app(broker, secret, users), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        self._host, self._port = host, port
        self._ssl = ssl_context
        self.url = ""

    async def start(self) -> str:
        await self.broker.resume()  # the old queue first; clients retry meanwhile
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            self._host,
            self._port,
            ssl_context=self._ssl,
        )
        await site.start()
        host, port = self._runner.addresses[0][:2]  # the port actually bound
        scheme = "https" if self._ssl is not None else "http"
        self.url = f"{scheme}://{host}:{port}"
        self.broker.start()
        logger.info("vQPU broker for %s listening on %s", self.broker.backend.name, self.url)
        return self.url

    async def close(self) -> None:
        await self.broker.close()  # first: long polls then answer, and the server closes at once
        await self._runner.cleanup()
