"""Traefik's log lines: the access log in its ``common`` format and its own INF/WRN/ERR lines.

The access log (``--accesslog=true``, default format ``common``) is written by pkg/middlewares/accesslog
``CommonLogFormatter`` (logger_formatters.go)::

    <client> - <user> [<start, 02/Jan/2006:15:04:05 -0700>] "<method> <path> <proto>" <status> <size>
    "<referer>" "<user-agent>" <request count> "<router>" "<service url>" <duration>ms

with ``-`` (or ``"-"``) for a missing value. Traefik's own log is zerolog's console format
(cmd/traefik/logger.go: ``TimeFormat: time.RFC3339``, no colour): ``<time> <LVL> <message> key=value…``.
Both go to the Traefik pod's container log, so ``kubectl logs -n traefik deploy/traefik`` shows them
(https://doc.traefik.io/traefik/v3.7/reference/install-configuration/observability/logs-and-accesslogs/).
"""

from __future__ import annotations

from datetime import datetime


def _field(value: str | None, quoted: bool) -> str:
    """toLog: ``-`` for empty, double quotes (inner quotes escaped) for the quoted fields."""
    if not value:
        return '"-"' if quoted else "-"
    return '"' + value.replace('"', '\\"') + '"' if quoted else value


_STAMP: tuple[datetime | None, str] = (None, "")
"""The last start time formatted (the access log's clock has one-second steps: most lines share it)."""


def _stamp(start: datetime) -> str:
    global _STAMP
    if _STAMP[0] != start:
        _STAMP = (start, start.strftime("%d/%b/%Y:%H:%M:%S ") + (start.strftime("%z") or "+0000"))
    return _STAMP[1]


def common_line(*, client: str, user: str, start: datetime, method: str, path: str, proto: str, status: int,
                size: int, referer: str, user_agent: str, count: int, router: str, service_url: str,
                duration_ms: int) -> str:
    """One access-log line in Traefik's common format."""
    stamp = _stamp(start)
    return (f"{_field(client, False)} - {_field(user, False)} [{stamp}] \"{method} {path} {proto}\" {status} {size} "
            f"{_field(referer, True)} {_field(user_agent, True)} {count} {_field(router, True)} "
            f"{_field(service_url, True)} {duration_ms}ms")


def log_line(at: datetime, level: str, message: str, **fields: str) -> str:
    """A zerolog console line: ``2026-01-02T03:04:05Z ERR message key=value`` (fields sorted, error first)."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [f"{stamp} {level} {message}"]
    for key in sorted(fields, key=lambda k: (k != "error", k)):
        value = fields[key]
        parts.append(f'{key}="{value}"' if any(c in value for c in ' "=') else f"{key}={value}")
    return " ".join(parts)
