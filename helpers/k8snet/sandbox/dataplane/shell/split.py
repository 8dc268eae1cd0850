"""A container's ``sh -c`` script split as the sandbox starts it: the setup commands, then the server."""

from __future__ import annotations

import posixpath

from .interp import static_words
from .syntax import Parser, ShellSyntaxError
from .syntax import Simple as SimpleCommand

SERVERS = {"/agnhost", "agnhost", "/http-echo", "nginx", "nginx-debug", "/docker-entrypoint.sh", "/coredns",
           "sleep", "tail"}


def split_script(script: str, env: dict[str, str]) -> tuple[str, list[str] | None]:
    """A container's ``sh -c`` script as (setup commands, the long-running command's argv or None): the
    first command (``exec`` or not) that starts a server the sandbox emulates, and the text before it."""
    try:
        parsed = Parser(script).whole()
    except (ShellSyntaxError, RecursionError):
        return "", None
    for item in parsed.items:
        for pipe in [item.body.first, *(p for _, p in item.body.rest)]:
            cmd = pipe.commands[0]
            if len(pipe.commands) != 1 or not isinstance(cmd, SimpleCommand) or cmd.assigns:
                continue
            words = static_words(cmd.words, env)
            if words and words[0] == "exec":
                words = words[1:]
            if words and (words[0] in SERVERS or posixpath.basename(words[0]) in SERVERS):
                return script[: pipe.start].rstrip(" \t\n;&|"), words
    return script, None
