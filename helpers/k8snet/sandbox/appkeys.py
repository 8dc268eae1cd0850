"""Keys of the API server's aiohttp application that its request handlers read (the handlers' modules sit below
the server and do not import it)."""

from __future__ import annotations

import asyncio

from aiohttp import web

STOPPING: web.AppKey[asyncio.Event] = web.AppKey("stopping", asyncio.Event)
"""Set when the server is stopping: a long-running handler (a log follow) ends."""
