"""kennethreitz/httpbin: the real httpbin, called in-process as its WSGI app (no host process, no socket).

The image runs ``gunicorn -b 0.0.0.0:80 httpbin:app -k gevent`` (its Dockerfile); the sandbox hands each
request to the same Flask application from the ``httpbin`` package, so ``/get``, ``/headers``, ``/ip``,
``/status/418``, ``/anything``, ``/response-headers`` and the rest answer exactly as httpbin does.
httpbin's pauses (``/delay/N``, ``/drip``) would hold the sandbox's event loop, so they are recorded
instead and the client waits them out on the sandbox clock (``HttpResponse.delay``).
"""

from __future__ import annotations

import threading
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from .model import HttpRequest, HttpResponse, http_date

GUNICORN_VERSION = "19.9.0"
"""The gunicorn the image's Dockerfile installs (the Server header)."""
IMAGE_ARGV = ["gunicorn", "-b", "0.0.0.0:80", "httpbin:app", "-k", "gevent"]

_lock = threading.Lock()
_app: Any = None
_paused = threading.local()


def _application() -> Any:
    """httpbin's Flask app, imported on first use with its sleeps recorded instead of slept."""
    global _app
    with _lock:
        if _app is None:
            import time

            import httpbin.core as core

            def sleep(seconds: float) -> None:
                _paused.seconds = getattr(_paused, "seconds", 0.0) + float(seconds)

            core.time = SimpleNamespace(sleep=sleep, time=time.time, monotonic=time.monotonic)
            _app = core.app
        return _app


def startup(bind: str, at: datetime) -> list[str]:
    """gunicorn's start-up lines on stderr (the container's log)."""
    stamp = at.strftime("[%Y-%m-%d %H:%M:%S +0000]")
    return [f"{stamp} [1] [INFO] Starting gunicorn {GUNICORN_VERSION}",
            f"{stamp} [1] [INFO] Listening at: http://{bind} (1)", f"{stamp} [1] [INFO] Using worker: gevent",
            f"{stamp} [8] [INFO] Booting worker with pid: 8"]


def serve(req: HttpRequest, client_ip: str, now: datetime) -> HttpResponse:
    """One request through httpbin's WSGI app; its status, headers and body as gunicorn sends them."""
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Response

    app = _application()
    path, _, query = req.path.partition("?")
    headers = dict(req.headers)
    builder = EnvironBuilder(path=path, query_string=query, method=req.method, headers=headers,
                             data=req.body or None, base_url=f"{req.scheme}://{req.host or 'localhost'}",
                             environ_base={"REMOTE_ADDR": client_ip, "SERVER_SOFTWARE": "gunicorn/"
                                           + GUNICORN_VERSION})
    environ = builder.get_environ()
    builder.close()
    _paused.seconds = 0.0
    resp = Response.from_app(app, environ, buffered=True)
    out = {"Server": f"gunicorn/{GUNICORN_VERSION}", "Date": http_date(now), "Connection": "keep-alive"}
    for key, value in resp.headers.items():
        out[key] = value
    answer = HttpResponse(resp.status_code, out, resp.get_data())
    answer.delay = _paused.seconds
    return answer
