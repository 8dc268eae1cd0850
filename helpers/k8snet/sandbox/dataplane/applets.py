"""The text and file tools scripts pipe through: printf, head, tail, wc, grep, cut, sort, uniq, tr, sed, seq,
tee, cp, mv, id, whoami, basename, dirname, uname, expr.

Each takes the option set scripts use, as busybox 1.37 (Alpine, busybox, agnhost, netshoot, curl) and GNU
coreutils (Debian's nginx) spell them; messages follow the image's build (``_gnu``). An option the sandbox
does not emulate is refused by name, never ignored.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Generator

from .context import Ctx
from .files import FileSystem

Step = float | None


def _gnu(ctx: Ctx) -> bool:
    return ctx.family == "nginx"


def _unsupported(ctx: Ctx, name: str, option: str) -> int:
    ctx.error(f"k8snet sandbox: `{name} {option}` is not emulated\n")
    return 2


def _inputs(ctx: Ctx, name: str, files: list[str]) -> list[tuple[str, bytes | None]]:
    """The named files' contents (``-`` or none: standard input); None for one that cannot be read, after
    the program's message."""
    out: list[tuple[str, bytes | None]] = []
    for path in files or ["-"]:
        if path == "-":
            out.append(("-", ctx.stdin))
            continue
        full = FileSystem.norm(path, ctx.cwd)
        data = None if ctx.fs.is_dir(full) else ctx.fs.read(full)
        if data is None:
            problem = "Is a directory" if ctx.fs.is_dir(full) else "No such file or directory"
            ctx.error(f"{name}: {path}: {problem}\n" if _gnu(ctx) or problem != "No such file or directory"
                      else f"{name}: can't open '{path}': {problem}\n")
        out.append((path, data))
    return out


def _lines(data: bytes) -> list[str]:
    return data.decode(errors="replace").splitlines(keepends=True)


# -- printf (coreutils/printf.c; the shells' builtins behave the same) ------------------------------------

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\", '"': '"',
           "e": "\x1b"}
CONVERSION = re.compile(r"%([-+ #0]*)(\*|[0-9]+)?(?:\.(\*|[0-9]*))?([diouxXeEfgGcsb%])")


def unescape(text: str, stop_at_c: bool = False) -> tuple[str, bool]:
    """Backslash escapes of printf formats and %b: returns the text and whether ``\\c`` asked to stop."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in ESCAPES:
            out.append(ESCAPES[nxt])
            i += 2
        elif nxt == "c" and stop_at_c:
            return "".join(out), True
        elif nxt in "01234567":
            j = i + 1 + (1 if nxt == "0" else 0)
            digits = ""
            while j < len(text) and len(digits) < 3 and text[j] in "01234567":
                digits += text[j]
                j += 1
            out.append(chr(int(digits or "0", 8) & 0xFF))
            i = j
        elif nxt == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", text[i + 2:])
            out.append(chr(int(m.group(0), 16)) if m else "\\x")
            i += 2 + (len(m.group(0)) if m else 0)
        else:
            out.append("\\" + nxt)
            i += 2
    return "".join(out), False


def _int_arg(ctx: Ctx, value: str) -> int:
    text = value.strip()
    if text[:1] in ("'", '"') and len(text) > 1:
        return ord(text[1])
    try:
        return int(text, 0) if text.lower().startswith(("0x", "-0x")) else int(text or "0")
    except ValueError:
        ctx.error(f"printf: {value}: invalid number\n" if _gnu(ctx) else f"printf: invalid number '{value}'\n")
        return 0


def _taker(queue: list[str]) -> Callable[[], str | None]:
    """The next argument of printf's, or None once they are used up (the format is reused while any remain)."""
    return lambda: queue.pop(0) if queue else None


def cmd_printf(ctx: Ctx, name: str, args: list[str]) -> int:
    if not args:
        ctx.error("printf: missing operand\n" if _gnu(ctx) else "BusyBox v1.37.0 (2024-12-13 17:06:28 UTC) "
                  "multi-call binary.\n\nUsage: printf FORMAT [ARG]...\n")
        return 1 if _gnu(ctx) else 1
    fmt, rest = args[0], args[1:]
    out: list[str] = []
    while True:
        queue = list(rest)
        take = _taker(queue)

        pos = 0
        for m in CONVERSION.finditer(fmt):
            text, stop = unescape(fmt[pos:m.start()], stop_at_c=True)
            out.append(text)
            if stop:
                ctx.write("".join(out))
                return 0
            pos = m.end()
            flags, width, precision, conv = m.groups()
            if conv == "%":
                out.append("%")
                continue
            if width == "*":
                width = str(_int_arg(ctx, take() or "0"))
            if precision == "*":
                precision = str(_int_arg(ctx, take() or "0"))
            spec = "%" + flags + (width or "") + ("." + precision if precision is not None else "")
            arg = take()
            if conv in "sb":
                value = arg or ""
                if conv == "b":
                    value, stop = unescape(value, stop_at_c=True)
                    if stop:
                        out.append(value)
                        ctx.write("".join(out))
                        return 0
                out.append((spec + "s") % value)
            elif conv == "c":
                out.append((spec + "s") % (arg or "")[:1])
            elif conv in "diouxX":
                number = _int_arg(ctx, arg or "0")
                out.append((spec + ("d" if conv in "iu" else conv)) % number)
            else:
                try:
                    out.append((spec + conv) % float(arg or "0"))
                except ValueError:
                    ctx.error(f"printf: {arg}: invalid number\n" if _gnu(ctx) else f"printf: invalid number '{arg}'\n")
                    out.append((spec + conv) % 0.0)
        text, stop = unescape(fmt[pos:], stop_at_c=True)
        out.append(text)
        consumed = len(rest) - len(queue)
        if stop or consumed == 0 or not queue:
            break
        rest = queue
    ctx.write("".join(out))
    return 0


# -- head, tail, wc --------------------------------------------------------------------------------------


def _count_option(args: list[str], letters: str) -> tuple[dict[str, str], list[str]] | str:
    """``-n 5``, ``-n5``, ``-5``, ``-c 10``, ``--lines=5``: the options given, and the files."""
    opts: dict[str, str] = {}
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if re.fullmatch(r"-[0-9]+", arg):
            opts["n"] = arg[1:]
        elif arg.startswith("--lines="):
            opts["n"] = arg.split("=", 1)[1]
        elif arg.startswith("--bytes="):
            opts["c"] = arg.split("=", 1)[1]
        elif arg.startswith("-") and len(arg) > 1 and arg[1] in letters:
            letter = arg[1]
            if letter in "nc":
                value = arg[2:]
                if not value:
                    i += 1
                    if i >= len(args):
                        return f"option requires an argument -- '{letter}'"
                    value = args[i]
                opts[letter] = value
            else:
                opts[letter] = ""
                for extra in arg[2:]:
                    opts[extra] = ""
        elif arg.startswith("-") and arg != "-":
            return f"invalid option -- '{arg[1:2]}'"
        else:
            files.append(arg)
        i += 1
    return opts, files


def cmd_head(ctx: Ctx, name: str, args: list[str]) -> int:
    parsed = _count_option(args, "ncqv")
    if isinstance(parsed, str):
        ctx.error(f"head: {parsed}\n")
        return 1
    opts, files = parsed
    code = 0
    inputs = _inputs(ctx, "head", files)
    for path, data in inputs:
        if data is None:
            code = 1
            continue
        if len(inputs) > 1:
            ctx.write(f"==> {'standard input' if path == '-' else path} <==\n")
        if "c" in opts:
            ctx.write(data[:int(opts["c"])])
        else:
            ctx.write("".join(_lines(data)[:int(opts.get("n", "10"))]))
    return code


def cmd_tail(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """``tail [-n N|+N] [-c N] [-f] FILE…``; ``-f`` follows the file as it grows, checking each second of
    sandbox time (``tail -f /dev/null`` waits for ever)."""
    parsed = _count_option(args, "ncfFqs")
    if isinstance(parsed, str):
        ctx.error(f"tail: {parsed}\n")
        return 1
    opts, files = parsed
    code = 0
    for _path, data in _inputs(ctx, "tail", files):
        if data is None:
            code = 1
            continue
        if "c" in opts:
            ctx.write(data[-int(opts["c"]):] if int(opts["c"]) else b"")
            continue
        lines = _lines(data)
        count = opts.get("n", "10")
        ctx.write("".join(lines[int(count[1:]) - 1:] if count.startswith("+") else
                          (lines[-int(count):] if int(count) else [])))
    if ("f" in opts or "F" in opts) and files:
        path = FileSystem.norm(files[-1], ctx.cwd)
        size = len(ctx.fs.read(path) or b"")
        while True:
            yield ctx.dp.sb.clock.time() + 1.0
            data = ctx.fs.read(path) or b""
            if len(data) > size:
                ctx.write(data[size:])
            size = len(data)
    return code


def cmd_wc(ctx: Ctx, name: str, args: list[str]) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-") and a != "-")
    if set(flags) - set("lwcm"):
        return _unsupported(ctx, "wc", "-" + flags)
    chosen = [f for f in "lwc" if f in flags.replace("m", "c")] or ["l", "w", "c"]
    files = [a for a in args if not a.startswith("-") or a == "-"]
    code, totals = 0, {"l": 0, "w": 0, "c": 0}
    rows = []
    for path, data in _inputs(ctx, "wc", files):
        if data is None:
            code = 1
            continue
        counts = {"l": data.count(b"\n"), "w": len(data.split()), "c": len(data)}
        for k in totals:
            totals[k] += counts[k]
        rows.append(([counts[k] for k in chosen], "" if path == "-" and not files else path))
    if len(rows) > 1:
        rows.append(([totals[k] for k in chosen], "total"))
    width = max((len(str(n)) for numbers, _ in rows for n in numbers), default=1)
    if not _gnu(ctx) and len(chosen) > 1:
        width = max(width, 7)  # busybox pads each column to 7 when it prints several
    for numbers, label in rows:
        text = " ".join(f"{n:>{width}}" for n in numbers) if len(chosen) > 1 or len(rows) > 1 or label \
            else str(numbers[0])
        ctx.write(text + (f" {label}" if label else "") + "\n")
    return code


# -- grep, cut, sort, uniq, tr, sed ----------------------------------------------------------------------


def bre_to_python(pattern: str) -> str:
    """A POSIX basic regular expression as Python's: ``\\(`` ``\\)`` ``\\{`` ``\\}`` ``\\|`` ``\\+`` ``\\?`` are the
    operators (GNU and busybox extensions), their bare forms literal characters."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "(){}|+?" else "\\" + nxt)
            i += 2
            continue
        out.append("\\" + c if c in "(){}|+?" else c)
        i += 1
    return "".join(out)


def _compile(ctx: Ctx, name: str, pattern: str, extended: bool, fixed: bool, ignore: bool,
             word: bool = False, line: bool = False) -> re.Pattern[str] | None:
    text = re.escape(pattern) if fixed else (pattern if extended else bre_to_python(pattern))
    text = text.replace("[[:digit:]]", "[0-9]").replace("[[:alpha:]]", "[A-Za-z]").replace(
        "[[:space:]]", r"\s").replace("[[:alnum:]]", "[A-Za-z0-9]").replace("[[:upper:]]", "[A-Z]").replace(
        "[[:lower:]]", "[a-z]")
    if word:
        text = rf"(?<!\w)(?:{text})(?!\w)"
    if line:
        text = rf"^(?:{text})$"
    try:
        return re.compile(text, re.I if ignore else 0)
    except re.error:
        ctx.error(f"{name}: Unmatched ( or \\(\n" if "(" in pattern else f"{name}: bad regex '{pattern}'\n")
        return None


def cmd_grep(ctx: Ctx, name: str, args: list[str]) -> int:
    flags: set[str] = set()
    patterns: list[str] = []
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-e", "--regexp") and i + 1 < len(args):
            patterns.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("--"):
            long = {"--quiet": "q", "--silent": "q", "--count": "c", "--invert-match": "v", "--ignore-case": "i",
                    "--line-number": "n", "--only-matching": "o", "--extended-regexp": "E", "--fixed-strings": "F",
                    "--word-regexp": "w", "--line-regexp": "x", "--files-with-matches": "l", "--no-filename": "h",
                    "--no-messages": "s", "--with-filename": "H"}.get(arg)
            if long is None:
                return _unsupported(ctx, "grep", arg)
            flags.add(long)
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            if set(letters) - set("qcvinoEFwxlhsHr"):
                return _unsupported(ctx, "grep", arg)
            flags.update(letters)
        else:
            files.append(arg)
        i += 1
    if not patterns:
        if not files:
            ctx.error("Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n"
                      if _gnu(ctx) else "BusyBox v1.37.0 (2024-12-13 17:06:28 UTC) multi-call binary.\n\n"
                                        "Usage: grep [-HhnlLoqvsrRiwFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN..."
                                        " | -f FILE... } [FILE]...\n")
            return 2
        patterns.append(files.pop(0))
    extended = "E" in flags or name == "egrep"
    fixed = "F" in flags or name == "fgrep"
    compiled = []
    for p in patterns:
        for piece in p.split("\n"):
            rx = _compile(ctx, "grep", piece, extended, fixed, "i" in flags, "w" in flags, "x" in flags)
            if rx is None:
                return 2
            compiled.append(rx)
    inputs = _inputs(ctx, "grep", files) if "s" not in flags else [
        (p, d) for p, d in _inputs_quiet(ctx, files)]
    show_name = ("H" in flags or len(files) > 1) and "h" not in flags
    found, errors = False, False
    for path, data in inputs:
        if data is None:
            errors = True
            continue
        label = "(standard input)" if path == "-" else path
        count = 0
        for number, line in enumerate(data.decode(errors="replace").splitlines(), 1):
            hits = [m for rx in compiled for m in rx.finditer(line)]
            matched = bool(hits) != ("v" in flags)
            if not matched:
                continue
            count += 1
            found = True
            if "q" in flags:
                return 0
            if "l" in flags or "c" in flags:
                continue
            prefix = (f"{label}:" if show_name else "") + (f"{number}:" if "n" in flags else "")
            if "o" in flags and "v" not in flags:
                for m in sorted(hits, key=lambda m: m.start()):
                    if m.group(0):
                        ctx.write(f"{prefix}{m.group(0)}\n")
            else:
                ctx.write(f"{prefix}{line}\n")
        if "l" in flags and count:
            ctx.write(f"{label}\n")
        elif "c" in flags:
            ctx.write((f"{label}:" if show_name else "") + f"{count}\n")
    if errors and not ("q" in flags and found):
        return 2
    return 0 if found else 1


def _inputs_quiet(ctx: Ctx, files: list[str]) -> list[tuple[str, bytes | None]]:
    out = []
    for path in files or ["-"]:
        out.append((path, ctx.stdin if path == "-" else ctx.fs.read(FileSystem.norm(path, ctx.cwd))))
    return out


def _ranges(spec: str) -> list[tuple[int, int]] | None:
    out = []
    for piece in spec.split(","):
        m = re.fullmatch(r"([0-9]*)(-?)([0-9]*)", piece)
        if not m or not (m.group(1) or m.group(3)):
            return None
        start = int(m.group(1) or "1")
        end = int(m.group(3)) if m.group(3) else (10 ** 9 if m.group(2) else start)
        out.append((start, end))
    return out


def cmd_cut(ctx: Ctx, name: str, args: list[str]) -> int:
    delim, fields, chars, files = "\t", None, None, []
    only_delimited = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg[:2] in ("-d", "-f", "-c", "-b") and len(arg) >= 2:
            value = arg[2:]
            if not value:
                i += 1
                value = args[i] if i < len(args) else ""
            if arg[:2] == "-d":
                delim = value[:1] or delim
            elif arg[:2] == "-f":
                fields = value
            else:
                chars = value
        elif arg == "-s":
            only_delimited = True
        elif arg.startswith("-") and arg != "-":
            return _unsupported(ctx, "cut", arg)
        else:
            files.append(arg)
        i += 1
    spec = fields if fields is not None else chars
    ranges = _ranges(spec) if spec else None
    if ranges is None:
        ctx.error("cut: you must specify a list of bytes, characters, or fields\n" if _gnu(ctx) else
                  "cut: expected a list of bytes, characters, or fields\n")
        return 1
    code = 0
    for _, data in _inputs(ctx, "cut", files):
        if data is None:
            code = 1
            continue
        for line in data.decode(errors="replace").splitlines():
            if fields is not None:
                if delim not in line:
                    if not only_delimited:
                        ctx.write(line + "\n")
                    continue
                parts = line.split(delim)
                chosen = [p for n, p in enumerate(parts, 1) if any(a <= n <= b for a, b in ranges)]
                ctx.write(delim.join(chosen) + "\n")
            else:
                ctx.write("".join(c for n, c in enumerate(line, 1) if any(a <= n <= b for a, b in ranges)) + "\n")
    return code


def cmd_sort(ctx: Ctx, name: str, args: list[str]) -> int:
    flags, key, sep, files = set(), None, None, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-k", "-t") and i + 1 < len(args):
            key, sep = (args[i + 1], sep) if arg == "-k" else (key, args[i + 1])
            i += 2
            continue
        if arg.startswith("-k") or arg.startswith("-t"):
            key, sep = (arg[2:], sep) if arg[1] == "k" else (key, arg[2:])
        elif arg.startswith("-") and arg != "-":
            if set(arg[1:]) - set("nrufh"):
                return _unsupported(ctx, "sort", arg)
            flags.update(arg[1:])
        else:
            files.append(arg)
        i += 1
    lines: list[str] = []
    code = 0
    for _, data in _inputs(ctx, "sort", files):
        if data is None:
            code = 2
            continue
        lines.extend(data.decode(errors="replace").splitlines())
    column = int(key.split(",")[0].split(".")[0]) if key else 0

    def keyed(line: str) -> str:
        if not column:
            return line
        parts = line.split(sep) if sep else line.split()
        return parts[column - 1] if column <= len(parts) else ""

    def numeric(text: str) -> float:
        m = re.match(r"\s*(-?[0-9]+(\.[0-9]*)?)", text)
        return float(m.group(1)) if m else 0.0

    if "n" in flags:
        ordered = sorted(lines, key=lambda ln: (numeric(keyed(ln)), ln), reverse="r" in flags)
    else:
        ordered = sorted(lines, key=lambda ln: (keyed(ln).lower() if "f" in flags else keyed(ln), ln),
                         reverse="r" in flags)
    if "u" in flags:
        seen, unique = set(), []
        for ln in ordered:
            k = keyed(ln)
            if k not in seen:
                seen.add(k)
                unique.append(ln)
        ordered = unique
    ctx.write("".join(ln + "\n" for ln in ordered))
    return code


def cmd_uniq(ctx: Ctx, name: str, args: list[str]) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-") and a != "-")
    if set(flags) - set("cdu"):
        return _unsupported(ctx, "uniq", "-" + flags)
    files = [a for a in args if not a.startswith("-") or a == "-"][:1]
    (_, data), = _inputs(ctx, "uniq", files)
    if data is None:
        return 1
    groups: list[list[str]] = []
    for line in data.decode(errors="replace").splitlines():
        if groups and groups[-1][0] == line:
            groups[-1].append(line)
        else:
            groups.append([line])
    for group in groups:
        if ("d" in flags and len(group) < 2) or ("u" in flags and len(group) > 1):
            continue
        ctx.write((f"{len(group):>7} " if "c" in flags else "") + group[0] + "\n")
    return 0


TR_CLASSES = {"[:upper:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "[:lower:]": "abcdefghijklmnopqrstuvwxyz",
              "[:digit:]": "0123456789", "[:space:]": " \t\n\r\f\v", "[:blank:]": " \t",
              "[:alpha:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
              "[:alnum:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "[:punct:]":
              "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}


def _tr_set(spec: str) -> str:
    for cls, chars in TR_CLASSES.items():
        spec = spec.replace(cls, chars)
    text, _ = unescape(spec)
    out, i = [], 0
    while i < len(text):
        if i + 2 < len(text) and text[i + 1] == "-":
            out.extend(chr(c) for c in range(ord(text[i]), ord(text[i + 2]) + 1))
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def cmd_tr(ctx: Ctx, name: str, args: list[str]) -> int:
    flags = ""
    while args and args[0].startswith("-") and len(args[0]) > 1:
        flags += args[0][1:]
        args = args[1:]
    if set(flags) - set("dsc"):
        return _unsupported(ctx, "tr", "-" + flags)
    if not args:
        ctx.error("tr: missing operand\n")
        return 1
    text = ctx.stdin.decode(errors="replace")
    first = _tr_set(args[0])
    if "d" in flags:
        text = "".join(c for c in text if (c in first) == ("c" in flags))
    elif len(args) > 1:
        second = _tr_set(args[1])
        second = second + second[-1:] * (len(first) - len(second)) if second else ""
        text = text.translate(str.maketrans(first, second[:len(first)]))
    if "s" in flags:
        squeeze = _tr_set(args[-1])
        text = re.sub("([" + re.escape(squeeze) + "])\\1+", r"\1", text) if squeeze else text
    ctx.write(text)
    return 0


SED_COMMAND = re.compile(r"\s*(?:(\d+|\$|/(?:[^/\\]|\\.)*/)(?:,(\d+|\$|/(?:[^/\\]|\\.)*/))?)?\s*(!?)\s*([spdq=])")


def _sed_program(script: str) -> list[tuple] | str:
    """sed's commands ``s``, ``p``, ``d``, ``q`` with line-number, ``$`` and /regex/ addresses."""
    program = []
    for piece in _split_sed(script):
        m = SED_COMMAND.match(piece)
        if not m:
            return f"unsupported command {piece.strip()[:1] or piece}"
        start, end, negate, command = m.groups()
        rest = piece[m.end():]
        if command == "s":
            if not rest:
                return "unterminated `s' command"
            delim = rest[0]
            parts, cur, i = [], [], 1
            while i < len(rest) and len(parts) < 2:
                if rest[i] == "\\" and i + 1 < len(rest):
                    cur.append(rest[i:i + 2] if rest[i + 1] != delim else delim)
                    i += 2
                    continue
                if rest[i] == delim:
                    parts.append("".join(cur))
                    cur = []
                else:
                    cur.append(rest[i])
                i += 1
            if len(parts) < 2:
                return "unterminated `s' command"
            sflags = rest[i:].strip()
            if set(sflags) - set("gIip0123456789"):
                return "unknown option to `s'"
            program.append((start, end, negate, "s", parts[0], parts[1], sflags))
        else:
            program.append((start, end, negate, command, rest.strip(), "", ""))
    return program


def _split_sed(script: str) -> list[str]:
    out, cur, depth_delim, i = [], [], None, 0
    pieces = script.replace("\n", ";")
    in_s = 0
    while i < len(pieces):
        c = pieces[i]
        if in_s and c == "\\":
            cur.append(pieces[i:i + 2])
            i += 2
            continue
        if in_s and c == depth_delim:
            in_s -= 1
        elif not in_s and c == "s" and i + 1 < len(pieces) and not "".join(cur).strip().endswith(("s",)) and \
                re.fullmatch(r"\s*(\d+|\$|/(?:[^/\\]|\\.)*/)?(,(\d+|\$|/(?:[^/\\]|\\.)*/))?\s*!?\s*", "".join(cur)):
            depth_delim = pieces[i + 1]
            cur.append(c + pieces[i + 1])
            in_s = 2
            i += 2
            continue
        if c == ";" and not in_s:
            if "".join(cur).strip():
                out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


def _sed_replacement(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\\" + nxt if nxt.isdigit() else ("\n" if nxt == "n" else nxt.replace("\\", "\\\\")))
            i += 2
            continue
        out.append("\\g<0>" if c == "&" else c.replace("\\", "\\\\"))
        i += 1
    return "".join(out)


def cmd_sed(ctx: Ctx, name: str, args: list[str]) -> int:
    quiet, in_place, extended = False, False, False
    scripts: list[str] = []
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-e" and i + 1 < len(args):
            scripts.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
            letters = arg[1:]
            if set(letters) - set("nirE"):
                return _unsupported(ctx, "sed", arg)
            quiet = quiet or "n" in letters
            in_place = in_place or "i" in letters
            extended = extended or "r" in letters or "E" in letters
        elif arg in ("--quiet", "--silent"):
            quiet = True
        elif arg.startswith("--"):
            return _unsupported(ctx, "sed", arg)
        else:
            files.append(arg)
        i += 1
    if not scripts:
        if not files:
            ctx.error("Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...\n")
            return 1 if _gnu(ctx) else 1
        scripts.append(files.pop(0))
    program = _sed_program(";".join(scripts))
    if isinstance(program, str):
        ctx.error(f"sed: -e expression #1, char 1: {program}\n" if _gnu(ctx) else f"sed: {program}\n")
        return 1
    compiled = []
    for start, end, negate, command, pattern, repl, sflags in program:
        rx = None
        if command == "s":
            rx = _compile(ctx, "sed", pattern, extended, False, "I" in sflags or "i" in sflags)
            if rx is None:
                return 1
        compiled.append((start, end, negate, command, rx, _sed_replacement(repl), sflags, [False]))
    code = 0
    for path, data in _inputs(ctx, "sed", files):
        if data is None:
            code = 2
            continue
        out: list[str] = []
        lines = data.decode(errors="replace").splitlines()
        for number, line in enumerate(lines, 1):
            last = number == len(lines)
            deleted, quit_after = False, False
            for start, end, negate, command, rx, repl, sflags, active in compiled:
                if _sed_selects(start, end, number, last, line, active, extended) == bool(negate):
                    continue
                if command == "s":
                    count = 0 if "g" in sflags else 1
                    new, n = rx.subn(repl, line, count=count)
                    line = new
                    if n and "p" in sflags:
                        out.append(line + "\n")
                elif command == "p":
                    out.append(line + "\n")
                elif command == "d":
                    deleted = True
                    break
                elif command == "=":
                    out.append(f"{number}\n")
                elif command == "q":
                    quit_after = True
                    break
            if not deleted and not quiet:
                out.append(line + "\n")
            if quit_after:
                break
        text = "".join(out)
        if in_place and path != "-":
            ctx.fs.write(FileSystem.norm(path, ctx.cwd), text.encode())
        else:
            ctx.write(text)
    return code


def _sed_selects(start: str | None, end: str | None, number: int, last: bool, line: str, active: list[bool],
                 extended: bool) -> bool:
    def hit(address: str) -> bool:
        if address == "$":
            return last
        if address.startswith("/"):
            return re.search(address[1:-1] if extended else bre_to_python(address[1:-1]), line) is not None
        return number == int(address)

    if start is None:
        return True
    if end is None:
        return hit(start)
    if active[0]:
        if hit(end) or (end.isdigit() and number >= int(end)):
            active[0] = False
        return True
    if hit(start):
        active[0] = not (end.isdigit() and number >= int(end))
        return True
    return False


# -- seq, tee, cp, mv, basename, dirname, id, whoami, uname, expr -----------------------------------------


def cmd_seq(ctx: Ctx, name: str, args: list[str]) -> int:
    sep, width = "\n", False
    nums = []
    i = 0
    while i < len(args):
        if args[i] == "-s" and i + 1 < len(args):
            sep = args[i + 1]
            i += 2
            continue
        if args[i] == "-w":
            width = True
        else:
            nums.append(args[i])
        i += 1
    try:
        values = [float(n) if "." in n else int(n) for n in nums]
    except ValueError:
        bad = next(n for n in nums if not re.fullmatch(r"-?[0-9.]+", n))
        ctx.error(f"seq: invalid floating point argument: '{bad}'\n" if _gnu(ctx) else f"seq: invalid number '{bad}'\n")
        return 1
    if not 1 <= len(values) <= 3:
        ctx.error("seq: missing operand\n" if _gnu(ctx) else "Usage: seq [-w] [-s SEP] [FIRST [INC]] LAST\n")
        return 1
    first, step, last = (1, 1, values[0]) if len(values) == 1 else (
        (values[0], 1, values[1]) if len(values) == 2 else values)
    if step == 0:
        return 1
    out, n = [], first
    while (n <= last if step > 0 else n >= last) and len(out) < 10_000_000:
        out.append(str(n))
        n += step
    if width and out:
        size = max(len(x) for x in out)
        out = [x.zfill(size) for x in out]
    ctx.write(sep.join(out) + ("\n" if out else ""))
    return 0


def cmd_tee(ctx: Ctx, name: str, args: list[str]) -> int:
    append = "-a" in args
    data = ctx.stdin
    code = 0
    for path in [a for a in args if not a.startswith("-")]:
        problem = ctx.fs.write(FileSystem.norm(path, ctx.cwd), data, append)
        if problem:
            ctx.error(f"tee: {path}: {problem}\n" if _gnu(ctx) else f"tee: can't open '{path}': {problem}\n")
            code = 1
    ctx.write(data)
    return code


def cmd_cp(ctx: Ctx, name: str, args: list[str]) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-"))
    paths = [a for a in args if not a.startswith("-")]
    if len(paths) < 2:
        ctx.error(f"{name}: missing destination file operand after '{paths[0]}'\n" if paths and _gnu(ctx) else
                  f"{name}: missing file operand\n")
        return 1
    *sources, target = paths
    target_full = FileSystem.norm(target, ctx.cwd)
    code = 0
    for source in sources:
        full = FileSystem.norm(source, ctx.cwd)
        dest = posixpath.join(target_full, posixpath.basename(full)) if ctx.fs.is_dir(target_full) else target_full
        if ctx.fs.is_dir(full):
            if name == "cp" and not set(flags) & set("rRa"):
                ctx.error(f"cp: -r not specified; omitting directory '{source}'\n" if _gnu(ctx) else
                          f"cp: omitting directory '{source}'\n")
                code = 1
                continue
            problem = _copy_tree(ctx.fs, full, dest)
        else:
            data = ctx.fs.read(full)
            if data is None:
                ctx.error(f"{name}: cannot stat '{source}': No such file or directory\n" if _gnu(ctx) else
                          f"{name}: can't stat '{source}': No such file or directory\n")
                code = 1
                continue
            problem = ctx.fs.write(dest, data)
        if problem:
            ctx.error(f"{name}: cannot create '{target}': {problem}\n" if _gnu(ctx) else
                      f"{name}: can't create '{target}': {problem}\n")
            code = 1
        elif name == "mv":
            ctx.fs.remove(full, recursive=True)
    return code


def _copy_tree(fs: FileSystem, source: str, dest: str) -> str:
    problem = fs.mkdir(dest, parents=True)
    if problem and not fs.is_dir(dest):
        return problem
    for entry in fs.listdir(source):
        src, dst = posixpath.join(source, entry), posixpath.join(dest, entry)
        problem = _copy_tree(fs, src, dst) if fs.is_dir(src) else fs.write(dst, fs.read(src) or b"")
        if problem:
            return problem
    return ""


def cmd_basename(ctx: Ctx, name: str, args: list[str]) -> int:
    if not args:
        ctx.error("basename: missing operand\n")
        return 1
    if name == "dirname":
        ctx.write((posixpath.dirname(args[0].rstrip("/")) or ".") + "\n")
        return 0
    base = posixpath.basename(args[0].rstrip("/")) or "/"
    if len(args) > 1 and base.endswith(args[1]) and base != args[1]:
        base = base[: -len(args[1])]
    ctx.write(base + "\n")
    return 0


def cmd_readlink(ctx: Ctx, name: str, args: list[str]) -> int:
    """readlink [-f] FILE: a symbolic link's target (nothing and exit 1 for a file that is not one); ``-f`` the
    path with every link followed. The links a container sees are the kubelet's in its volumes (``..data``)."""
    flags = "".join(a[1:] for a in args if a.startswith("-") and a != "-")
    paths = [a for a in args if not a.startswith("-") or a == "-"]
    if set(flags) - set("fnv") or not paths:
        ctx.error(f"k8snet sandbox: readlink {' '.join(args)} is not emulated (readlink [-f] FILE is)\n")
        return 1
    code = 0
    for path in paths:
        full = FileSystem.norm(path, ctx.cwd)
        if "f" in flags:
            resolved = _canonical(ctx.fs, full)
            if resolved is None:
                code = 1
                continue
            ctx.write(resolved + ("" if "n" in flags else "\n"))
            continue
        target = ctx.fs.readlink(full)
        if target is None:
            code = 1
            continue
        ctx.write(target + ("" if "n" in flags else "\n"))
    return code


def _canonical(fs: FileSystem, path: str) -> str | None:
    """realpath(3): each component's links followed in turn (None when the path does not exist)."""
    out = "/"
    parts = [p for p in path.split("/") if p]
    for _ in range(40 * max(len(parts), 1)):
        if not parts:
            return out if fs.exists(out) else None
        head = parts.pop(0)
        candidate = FileSystem.norm(posixpath.join(out, head))
        target = fs.readlink(candidate)
        if target is None:
            out = candidate
            continue
        base = "/" if target.startswith("/") else out
        parts = [p for p in FileSystem.norm(posixpath.join(base, target)).split("/") if p] + parts
        out = "/"
    return None


GROUPS = {
    # the root user's groups in each image's /etc/group
    "alpine": "0(root),1(bin),2(daemon),3(sys),4(adm),6(disk),10(wheel),11(floppy),20(dialout),26(tape),27(video)",
    "busybox": "0(root),10(wheel)",
    "busyboxplus": "0(root),10(wheel)",
    "nginx": "0(root)",
}


def cmd_id(ctx: Ctx, name: str, args: list[str]) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-"))
    if "u" in flags or "g" in flags:
        ctx.write(("root" if "n" in flags else "0") + "\n")
        return 0
    family = ctx.family if ctx.family in GROUPS else "alpine"
    ctx.write(f"uid=0(root) gid=0(root) groups={GROUPS[family]}\n")
    return 0


def cmd_whoami(ctx: Ctx, name: str, args: list[str]) -> int:
    ctx.write("root\n")
    return 0


def cmd_uname(ctx: Ctx, name: str, args: list[str]) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-")) or "s"
    if "a" in flags:
        flags = "snrvm"
    node = ctx.pod["spec"].get("hostname") or ctx.pod["metadata"]["name"]
    fields = {"s": "Linux", "n": node, "r": "6.8.0-k8snet", "v": "#1 SMP", "m": "x86_64", "p": "unknown",
              "i": "unknown", "o": "GNU/Linux" if _gnu(ctx) else "Linux"}
    ctx.write(" ".join(fields[f] for f in "snrvmpio" if f in flags) + "\n")
    return 0


def cmd_expr(ctx: Ctx, name: str, args: list[str]) -> int:
    """``expr A OP B`` with the arithmetic, comparison and ``:`` (match length) operators, one operator."""
    if len(args) == 1:
        value = args[0]
    elif len(args) == 3:
        a, op, b = args
        try:
            if op in ("+", "-", "*", "/", "%"):
                x, y = int(a), int(b)
                if op in "/%" and y == 0:
                    ctx.error("expr: division by zero\n")
                    return 2
                value = str({"+": x + y, "-": x - y, "*": x * y, "/": int(x / y), "%": x - int(x / y) * y}[op])
            elif op in ("=", "!=", "<", ">", "<=", ">="):
                both_int = re.fullmatch(r"-?\d+", a) and re.fullmatch(r"-?\d+", b)
                x2, y2 = (int(a), int(b)) if both_int else (a, b)
                value = str(int({"=": x2 == y2, "!=": x2 != y2, "<": x2 < y2, ">": x2 > y2, "<=": x2 <= y2,
                                 ">=": x2 >= y2}[op]))
            elif op == ":":
                m = re.match(bre_to_python(b), a)
                value = (m.group(1) or "") if m and m.groups() else str(m.end() if m else 0)
            else:
                return _unsupported(ctx, "expr", op)
        except ValueError:
            ctx.error("expr: non-integer argument\n")
            return 2
    else:
        ctx.error("k8snet sandbox: expr with more than one operator is not emulated; use $(( … ))\n")
        return 2
    ctx.write(value + "\n")
    return 1 if value in ("", "0") else 0


def cmd_tar(ctx: Ctx, name: str, args: list[str]) -> int:
    """``tar c|x|t [v] [m] [-f -|FILE] [-C DIR] [PATHS…]`` (busybox tar, GNU tar alike here), with the long
    options ``kubectl cp`` sends (``--no-same-permissions``, ``--no-same-owner``): archives of the
    container's files, on stdout/stdin or in a file."""
    import io
    import tarfile

    mode, archive, directory, paths = "", "", ctx.cwd, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--no-same-permissions", "--no-same-owner", "--preserve-permissions", "-m", "-v"):
            pass
        elif arg == "-C" and i + 1 < len(args):
            directory = FileSystem.norm(args[i + 1], ctx.cwd)
            i += 1
        elif arg in ("-f", "--file") and i + 1 < len(args):
            archive = args[i + 1]
            i += 1
        elif arg.startswith("-") and arg != "-" or (i == 0 and not arg.startswith("-")):
            letters = arg.lstrip("-")
            if set(letters) - set("cxtvmfpoO"):
                return _unsupported(ctx, "tar", arg)
            mode = next((m for m in "cxt" if m in letters), mode)
            if "f" in letters and i + 1 < len(args):
                archive = args[i + 1]
                i += 1
        else:
            paths.append(arg)
        i += 1
    if not mode:
        ctx.error("tar: need at least one option\n" if not _gnu(ctx) else
                  "tar: You must specify one of the '-Acdtrux', '--delete' or '--test-label' options\n")
        return 1
    if mode == "c":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as out:
            for path in paths:
                member = path.lstrip("/")
                if member != path:
                    ctx.error("tar: removing leading '/' from member names\n")
                _tar_add(out, ctx.fs, FileSystem.norm(path, directory), member)
        data = buffer.getvalue()
        if archive in ("", "-"):
            ctx.write(data)
        elif ctx.fs.write(FileSystem.norm(archive, ctx.cwd), data):
            ctx.error(f"tar: can't open '{archive}'\n")
            return 1
        return 0
    raw = ctx.stdin if archive in ("", "-") else ctx.fs.read(FileSystem.norm(archive, ctx.cwd))
    if raw is None:
        ctx.error(f"tar: can't open '{archive}': No such file or directory\n")
        return 1
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as src:
            for member in src.getmembers():
                if mode == "t":
                    ctx.write(member.name + ("/" if member.isdir() else "") + "\n")
                    continue
                target = FileSystem.norm(member.name.lstrip("/"), directory)
                if member.isdir():
                    ctx.fs.mkdir(target, parents=True)
                elif member.isfile():
                    ctx.fs.mkdir(posixpath.dirname(target), parents=True)
                    handle = src.extractfile(member)
                    problem = ctx.fs.write(target, handle.read() if handle else b"")
                    if problem:
                        ctx.error(f"tar: can't open '{member.name}': {problem}\n")
                        return 1
    except tarfile.TarError:
        ctx.error("tar: invalid tar magic\n")
        return 1
    return 0


def _tar_add(out: object, fs: FileSystem, path: str, member: str) -> None:
    import io
    import tarfile

    assert isinstance(out, tarfile.TarFile)
    if fs.is_dir(path):
        info = tarfile.TarInfo(member.rstrip("/") or ".")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        out.addfile(info)
        for entry in fs.listdir(path):
            _tar_add(out, fs, posixpath.join(path, entry), posixpath.join(member, entry))
        return
    data = fs.read(path)
    if data is None:
        return
    info = tarfile.TarInfo(member)
    info.size, info.mode = len(data), 0o644
    out.addfile(info, io.BytesIO(data))


HANDLERS = {"printf": cmd_printf, "head": cmd_head, "wc": cmd_wc, "grep": cmd_grep, "egrep": cmd_grep,
            "fgrep": cmd_grep, "cut": cmd_cut, "sort": cmd_sort, "uniq": cmd_uniq, "tr": cmd_tr, "sed": cmd_sed,
            "seq": cmd_seq, "tee": cmd_tee, "cp": cmd_cp, "mv": cmd_cp, "basename": cmd_basename,
            "dirname": cmd_basename, "id": cmd_id, "whoami": cmd_whoami, "uname": cmd_uname, "expr": cmd_expr,
            "tar": cmd_tar, "readlink": cmd_readlink}
STEPWISE = {"tail": cmd_tail}
