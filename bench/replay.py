"""A minimal HTTPS server that records a real server's answers, then replays the same bytes.

In record mode every request is forwarded to ``upstream`` and the answer is kept under (method, path?query);
in replay mode the kept answer is sent back as is, so kubectl sees exactly what the sandbox said, without
the sandbox's work. It uses the sandbox's own certificate and checks the same bearer token.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class ReplayServer:
    """Runs on its own thread and event loop; ``upstream`` set means record mode."""

    cert: str
    key: str
    token: str
    upstream: str | None = None
    upstream_ca: str | None = None
    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    misses: int = 0
    port: int = 0

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("the replay server did not start")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def replay(self) -> None:
        """Stop forwarding: from now on only recorded answers are sent."""
        self.upstream = None

    # -- inside the server's loop ------------------------------------------------------

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._setup())
        ready.set()
        self._loop.run_forever()

    async def _setup(self) -> None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.cert, self.key)
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session: aiohttp.ClientSession | None = None

    async def _cleanup(self) -> None:
        if self._session:
            await self._session.close()
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, text="Unauthorized")
        key = (request.method, request.path_qs)
        self.requests.append(key)
        if self.upstream:
            self.answers[key] = await self._forward(request)
        answer = self.answers.get(key)
        if answer is None:
            self.misses += 1
            return web.Response(status=404, text=f"not recorded: {key}")
        resp = web.Response(status=answer.status, body=answer.body)
        for k, v in answer.headers:
            resp.headers.add(k, v)
        return resp

    async def _forward(self, request: web.Request) -> Answer:
        if self._session is None:
            tls = ssl.create_default_context(cafile=self.upstream_ca)
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls), auto_decompress=False)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
        async with self._session.request(request.method, f"{self.upstream}{request.path_qs}", headers=headers,
                                         data=await request.read()) as up:
            body = await up.read()
            kept = [(k, v) for k, v in up.headers.items() if k.lower() not in HOP_HEADERS]
            return Answer(up.status, kept, body)
