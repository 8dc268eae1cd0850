"""The shell language, read into a tree: POSIX sh (XCU 2.10 "Shell Grammar") as busybox ash and dash read it.

One recursive-descent pass over the text, no backtracking, so reading costs the script's length. Words keep
their quoting (:class:`Lit`, :class:`Quoted`, :class:`DQ`) and their expansions (:class:`Param`,
:class:`CmdSub`, :class:`Arith`) for the interpreter to expand when the command runs. A script is read one
line of complete commands at a time (:meth:`Parser.next_line`), as the shells read it: what comes before a
syntax error on an earlier line has already run.

Errors carry what the shells print: ``unexpected "fi"`` / ``unexpected end of file (expecting "done")``
(busybox ash's raise_error_unexpected_syntax; dash's synexpect words it ``"fi" unexpected``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# -- words ----------------------------------------------------------------------------------------


@dataclass
class Lit:
    """Unquoted text: subject to pathname expansion, never to field splitting."""

    text: str


@dataclass
class Quoted:
    """Single-quoted or backslash-escaped text: taken as it is."""

    text: str


@dataclass
class DQ:
    """A double-quoted string: its expansions happen, their results are not split or globbed."""

    parts: list[Part]


@dataclass
class Param:
    """``$name``, ``${name}``, ``${name<op>word}``, ``${#name}``; ``op`` is one of :data:`PARAM_OPS`, ``#len``,
    ``/``/``//`` (pattern substitution, ``arg`` then ``repl``) or ``:`` (substring, bash and ash)."""

    name: str
    op: str = ""
    arg: Word | None = None
    repl: Word | None = None


@dataclass
class CmdSub:
    """``$(list)`` or a backquoted command: its output, trailing newlines removed."""

    body: Script


@dataclass
class Arith:
    """``$((expression))``: the expression's parameters are expanded, then it is evaluated."""

    expr: Word


Part = Lit | Quoted | DQ | Param | CmdSub | Arith
Word = list[Part]

PARAM_OPS = (":-", ":=", ":?", ":+", "-", "=", "?", "+", "%%", "%", "##", "#")
SPECIAL = set("@*#?-$!0123456789")


def plain(word: Word) -> str | None:
    """The word's text when it is one unquoted literal (how reserved words and names are recognised)."""
    return word[0].text if len(word) == 1 and isinstance(word[0], Lit) else None


# -- commands -------------------------------------------------------------------------------------


@dataclass
class Redir:
    """``[n]op target``: ``<``, ``>``, ``>|``, ``>>``, ``<>``, ``<&``, ``>&``, ``&>``, ``<<``, ``<<-``, ``<<<``."""

    fd: int
    op: str
    target: Word
    heredoc: Word | None = None  # a here-document's body (expanded unless its delimiter was quoted)


@dataclass
class Simple:
    assigns: list[tuple[str, Word]]
    words: list[Word]
    redirs: list[Redir]
    line: int = 1


@dataclass
class Pipeline:
    commands: list[Command]
    negate: bool = False
    start: int = 0  # where it begins in the script's text


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)  # ("&&" | "||", pipeline)


@dataclass
class Item:
    body: AndOr
    background: bool = False


@dataclass
class Script:
    items: list[Item]


@dataclass
class If:
    branches: list[tuple[Script, Script]]  # (condition, body) for if and each elif
    otherwise: Script | None


@dataclass
class Loop:
    until: bool
    cond: Script
    body: Script


@dataclass
class For:
    var: str
    words: list[Word] | None  # None: "$@"
    body: Script


@dataclass
class Case:
    word: Word
    arms: list[tuple[list[Word], Script]]


@dataclass
class Group:
    body: Script
    subshell: bool  # ( list ) runs in a subshell; { list; } in the shell itself


@dataclass
class Compound:
    body: If | Loop | For | Case | Group
    redirs: list[Redir]


@dataclass
class FuncDef:
    name: str
    body: Compound


Command = Simple | Compound | FuncDef


class ShellSyntaxError(Exception):
    """A syntax error: ``unexpected`` names the token that stopped the parse, ``expecting`` what was owed."""

    def __init__(self, unexpected: str, expecting: str = "", line: int = 1, message: str = ""):
        super().__init__(message or unexpected)
        self.unexpected, self.expecting, self.line, self.message = unexpected, expecting, line, message

    def text(self, flavour: str) -> str:
        """The line the shell prints (without its ``sh: `` prefix): busybox ash, dash or bash wording."""
        if self.message:  # a lexical error: unterminated quote, bad substitution
            if flavour == "dash":
                return f"{self.line}: Syntax error: {self.message[0].upper()}{self.message[1:]}"
            if flavour == "bash":
                return f"-c: line {self.line}: {self.message}"
            return f"syntax error: {self.message}"
        if flavour == "dash":
            tail = f" (expecting {self.expecting})" if self.expecting else ""
            return f"{self.line}: Syntax error: {self.unexpected} unexpected{tail}"
        if flavour == "zsh":
            return f"parse error near `{self.unexpected.strip(chr(34))}'"
        if flavour == "bash":
            if self.unexpected == "end of file":
                return f"-c: line {self.line}: syntax error: unexpected end of file"
            return f"-c: line {self.line}: syntax error near unexpected token `{self.unexpected.strip(chr(34))}'"
        tail = f" (expecting {self.expecting})" if self.expecting else ""
        return f"syntax error: unexpected {self.unexpected}{tail}"


# -- the parser -----------------------------------------------------------------------------------

OPERATORS = ("&&", "||", ";;", "<<<", "<<-", "<<", ">>", "<&", ">&", "<>", ">|", "&>", ";", "&", "|", "(", ")",
             "<", ">")
REDIRECTIONS = {"<", ">", ">>", ">|", "<>", "<&", ">&", "&>", "<<", "<<-", "<<<"}
RESERVED = {"if", "then", "elif", "else", "fi", "do", "done", "case", "esac", "while", "until", "for", "{", "}",
            "!", "in", "function"}
METACHARS = set(" \t\n;&|<>()")
NAME_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
NAME_CHARS = NAME_START | set("0123456789")
ANSI_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f",
                "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


@dataclass
class Token:
    kind: str  # "word", "op", "nl", "eof", "io" (a redirection with its fd number)
    text: str  # the operator, or the word's source text
    word: Word | None = None
    fd: int = -1
    line: int = 1
    start: int = 0


def is_name(text: str) -> bool:
    return bool(text) and text[0] in NAME_START and all(c in NAME_CHARS for c in text)


class Parser:
    """Reads one script; :meth:`next_line` returns its complete commands a line at a time."""

    def __init__(self, src: str, bash: bool = False):
        self.src, self.pos, self.line = src, 0, 1
        self.bash = bash
        self._peeked: Token | None = None
        self._heredocs: list[tuple[Redir, str, bool, bool]] = []  # (redir, delimiter, strip tabs, expand)

    # -- tokens ---------------------------------------------------------------------------------

    def peek(self) -> Token:
        if self._peeked is None:
            self._peeked = self._read_token()
        return self._peeked

    def take(self) -> Token:
        tok = self.peek()
        self._peeked = None
        return tok

    def _read_token(self) -> Token:
        src, n = self.src, len(self.src)
        while True:
            while self.pos < n and src[self.pos] in " \t":
                self.pos += 1
            if src.startswith("\\\n", self.pos):
                self.pos += 2
                self.line += 1
                continue
            if self.pos < n and src[self.pos] == "#":
                while self.pos < n and src[self.pos] != "\n":
                    self.pos += 1
            break
        if self.pos >= n:
            return Token("eof", "end of file", line=self.line, start=n)
        ch = src[self.pos]
        if ch == "\n":
            self.pos += 1
            tok = Token("nl", "newline", line=self.line, start=self.pos - 1)
            self.line += 1
            self._read_heredocs()
            return tok
        if ch.isdigit():  # an IO number: digits right before a redirection operator
            end = self.pos
            while end < n and src[end].isdigit():
                end += 1
            if end < n and src[end] in "<>" and end - self.pos <= 2:
                start, fd = self.pos, int(src[self.pos:end])
                self.pos = end
                op = self._operator()
                return Token("io", op, fd=fd, line=self.line, start=start)
        start, line = self.pos, self.line
        if ch in METACHARS:
            op = self._operator()
            return Token("op", op, line=line, start=start)
        word = self._word(METACHARS)
        return Token("word", src[start:self.pos], word, line=line, start=start)

    def _operator(self) -> str:
        for op in OPERATORS:
            if self.src.startswith(op, self.pos):
                self.pos += len(op)
                return op
        raise AssertionError(self.src[self.pos])  # every metacharacter but blanks starts an operator

    # -- words ----------------------------------------------------------------------------------

    def _word(self, stops: set[str] | str, in_brace: bool = False) -> Word:
        """Read a word up to an unquoted character in ``stops`` (metacharacters, or ``}`` inside ${…})."""
        src, n = self.src, len(self.src)
        parts: Word = []
        lit: list[str] = []

        def flush() -> None:
            if lit:
                parts.append(Lit("".join(lit)))
                lit.clear()

        while self.pos < n:
            ch = src[self.pos]
            if ch in stops:
                break
            if ch == "\\":
                if self.pos + 1 >= n:
                    lit.append("\\")
                    self.pos += 1
                    continue
                nxt = src[self.pos + 1]
                self.pos += 2
                if nxt == "\n":
                    self.line += 1
                    continue
                flush()
                parts.append(Quoted(nxt))
            elif ch == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise self._unterminated()
                flush()
                text = src[self.pos + 1:end]
                self.line += text.count("\n")
                parts.append(Quoted(text))
                self.pos = end + 1
            elif ch == '"':
                flush()
                self.pos += 1
                parts.append(DQ(self._double_quoted()))
            elif ch == "$" and src.startswith("$'", self.pos) and not in_brace:
                flush()
                parts.append(Quoted(self._ansi_c()))
            elif ch == "$":
                flush()
                parts.append(self._dollar())
            elif ch == "`":
                flush()
                parts.append(self._backquote())
            else:
                if ch == "\n":
                    self.line += 1
                lit.append(ch)
                self.pos += 1
        flush()
        return parts

    def _double_quoted(self) -> list[Part]:
        return self._quoted_parts('"', '$`"\\\n')

    def _quoted_parts(self, close: str, escapes: str) -> list[Part]:
        """Text read as inside double quotes up to ``close`` (end of text when empty): expansions happen, a
        backslash escapes only the characters in ``escapes`` (XCU 2.2.3; a here-document's body, 2.7.4)."""
        src, n = self.src, len(self.src)
        parts: list[Part] = []
        lit: list[str] = []
        while True:
            if self.pos >= n:
                if close:
                    raise self._unterminated()
                break
            ch = src[self.pos]
            if close and ch == close:
                self.pos += 1
                break
            if ch == "\\" and self.pos + 1 < n and src[self.pos + 1] in escapes:
                if src[self.pos + 1] == "\n":
                    self.line += 1
                else:
                    lit.append(src[self.pos + 1])
                self.pos += 2
                continue
            if ch in "$`":
                if lit:
                    parts.append(Lit("".join(lit)))
                    lit = []
                parts.append(self._dollar() if ch == "$" else self._backquote())
                continue
            if ch == "\n":
                self.line += 1
            lit.append(ch)
            self.pos += 1
        if lit:
            parts.append(Lit("".join(lit)))
        return parts

    def _unterminated(self) -> ShellSyntaxError:
        return ShellSyntaxError("", line=self.line, message="unterminated quoted string")

    def _ansi_c(self) -> str:
        """``$'…'`` (bash, and ash's bash compatibility): backslash escapes are decoded."""
        src, n = self.src, len(self.src)
        self.pos += 2
        out: list[str] = []
        while True:
            if self.pos >= n:
                raise self._unterminated()
            ch = src[self.pos]
            if ch == "'":
                self.pos += 1
                return "".join(out)
            if ch == "\\" and self.pos + 1 < n:
                nxt = src[self.pos + 1]
                self.pos += 2
                if nxt in ANSI_ESCAPES:
                    out.append(ANSI_ESCAPES[nxt])
                elif nxt == "x":
                    digits = ""
                    while len(digits) < 2 and self.pos < n and src[self.pos] in "0123456789abcdefABCDEF":
                        digits += src[self.pos]
                        self.pos += 1
                    out.append(chr(int(digits, 16)) if digits else "\\x")
                elif nxt in "01234567":
                    digits = nxt
                    while len(digits) < 3 and self.pos < n and src[self.pos] in "01234567":
                        digits += src[self.pos]
                        self.pos += 1
                    out.append(chr(int(digits, 8) & 0xFF))
                else:
                    out.append("\\" + nxt)
                continue
            out.append(ch)
            self.pos += 1

    def _dollar(self) -> Part:
        src, n = self.src, len(self.src)
        self.pos += 1  # the $
        if src.startswith("((", self.pos):
            self.pos += 2
            return Arith(self._arith_body())
        if src.startswith("(", self.pos):
            self.pos += 1
            return CmdSub(self._inner_script())
        if src.startswith("{", self.pos):
            self.pos += 1
            return self._braced()
        if self.pos < n and src[self.pos] in NAME_START:
            end = self.pos
            while end < n and src[end] in NAME_CHARS:
                end += 1
            name, self.pos = src[self.pos:end], end
            return Param(name)
        if self.pos < n and src[self.pos] in SPECIAL:
            self.pos += 1
            return Param(src[self.pos - 1])
        return Lit("$")

    def _arith_body(self) -> Word:
        """The text of ``$(( … ))`` up to the ``))`` that closes it, with its expansions."""
        src, n = self.src, len(self.src)
        depth, parts, lit = 0, [], []  # type: ignore[var-annotated]
        while True:
            if self.pos >= n:
                raise ShellSyntaxError("end of file", '"))"', self.line)
            ch = src[self.pos]
            if ch == ")" and depth == 0:
                if not src.startswith("))", self.pos):
                    raise ShellSyntaxError('")"', '"))"', self.line)
                self.pos += 2
                break
            if ch in "$`":
                if lit:
                    parts.append(Lit("".join(lit)))
                    lit = []
                parts.append(self._dollar() if ch == "$" else self._backquote())
                continue
            depth += {"(": 1, ")": -1}.get(ch, 0)
            lit.append(ch)
            self.pos += 1
        if lit:
            parts.append(Lit("".join(lit)))
        return parts

    def _inner_script(self) -> Script:
        """The script of ``$( … )``, read by this parser up to the ``)`` that closes it."""
        saved_peek, self._peeked = self._peeked, None
        self._linebreak()
        body = Script([]) if self._stops(self.peek(), {")"}) else self._list(stop={")"})
        tok = self.take()
        if tok.text != ")" or tok.kind != "op":
            raise self._unexpected(tok, '")"')
        self._peeked = saved_peek
        return body

    def _backquote(self) -> CmdSub:
        """```command```: backslash keeps its meaning only before $, ` and \\ (XCU 2.6.3)."""
        src, n = self.src, len(self.src)
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= n:
                raise self._unterminated()
            ch = src[self.pos]
            if ch == "`":
                self.pos += 1
                break
            if ch == "\\" and self.pos + 1 < n and src[self.pos + 1] in "$`\\":
                out.append(src[self.pos + 1])
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        inner = Parser("".join(out), self.bash)
        inner.line = self.line
        return CmdSub(inner.whole())

    def _braced(self) -> Param:
        """``${…}``: a name or special parameter, then an operator and its word, up to the closing brace."""
        src, n = self.src, len(self.src)
        bad = ShellSyntaxError("", line=self.line, message="bad substitution")
        length = False
        if src.startswith("#", self.pos) and self.pos + 1 < n and src[self.pos + 1] not in "}":
            length = True
            self.pos += 1
        end = self.pos
        if end < n and src[end] in NAME_START:
            while end < n and src[end] in NAME_CHARS:
                end += 1
        elif end < n and src[end].isdigit():
            while end < n and src[end].isdigit():
                end += 1
        elif end < n and src[end] in SPECIAL:
            end += 1
        name, self.pos = src[self.pos:end], end
        if not name:
            raise bad
        if length:
            if not src.startswith("}", self.pos):
                raise bad
            self.pos += 1
            return Param(name, "#len")
        if src.startswith("}", self.pos):
            self.pos += 1
            return Param(name)
        if src.startswith("/", self.pos):
            op = "//" if src.startswith("//", self.pos) else "/"
            self.pos += len(op)
            pattern = self._word("/}", in_brace=True)
            repl: Word = []
            if src.startswith("/", self.pos):
                self.pos += 1
                repl = self._word("}", in_brace=True)
            return self._close_brace(Param(name, op, pattern, repl), bad)
        op = next((o for o in PARAM_OPS if src.startswith(o, self.pos)), None)
        if op is None and src.startswith(":", self.pos):
            op = ":"
        if op is None:
            raise bad
        self.pos += len(op)
        return self._close_brace(Param(name, op, self._word("}", in_brace=True)), bad)

    def _close_brace(self, param: Param, bad: ShellSyntaxError) -> Param:
        if not self.src.startswith("}", self.pos):
            if self.pos >= len(self.src):
                raise ShellSyntaxError("", line=self.line, message="missing '}'")
            raise bad
        self.pos += 1
        return param

    def _read_heredocs(self) -> None:
        """After a newline: the bodies of the here-documents opened on the line just read."""
        pending, self._heredocs = self._heredocs, []
        for redir, delim, strip, expand in pending:
            lines = []
            while True:
                if self.pos >= len(self.src):
                    break  # ash and dash end the document at end of file (bash warns)
                end = self.src.find("\n", self.pos)
                end = len(self.src) if end < 0 else end
                line = self.src[self.pos:end]
                self.pos = min(end + 1, len(self.src))
                self.line += 1
                if strip:
                    line = line.lstrip("\t")
                if line == delim:
                    break
                lines.append(line + "\n")
            body = "".join(lines)
            if expand:
                inner = Parser(body, self.bash)
                redir.heredoc = inner._heredoc_word()
            else:
                redir.heredoc = [Quoted(body)]

    def _heredoc_word(self) -> Word:
        """A here-document's body: like double quotes, but a double quote is just a character."""
        return [DQ(self._quoted_parts("", "$`\\\n"))]

    # -- the grammar ----------------------------------------------------------------------------

    def whole(self) -> Script:
        """The whole text as one script (command substitutions, ``eval``)."""
        items: list[Item] = []
        while True:
            line = self.next_line()
            if line is None:
                return Script(items)
            items.extend(line.items)

    def next_line(self) -> Script | None:
        """The next line's complete commands (None at the end of the text)."""
        while self.peek().kind == "nl":
            self.take()
        if self.peek().kind == "eof":
            return None
        script = self._list(stop=set(), one_line=True)
        tok = self.peek()
        if tok.kind == "nl":
            self.take()
        elif tok.kind != "eof":
            raise self._unexpected(tok)
        return script

    def _unexpected(self, tok: Token, expecting: str = "") -> ShellSyntaxError:
        """ash's tokname: ``end of file``, ``newline``, ``word``, or the operator or reserved word in quotes
        (bash names the token's own text)."""
        if tok.kind == "eof":
            name = "end of file"
        elif tok.kind == "nl":
            name = "newline"
        elif tok.kind == "word" and plain(tok.word or []) not in RESERVED:
            name = f'"{tok.text}"' if self.bash else "word"
        else:
            name = f'"{tok.text}"'
        return ShellSyntaxError(name, expecting, tok.line)

    def _is_reserved(self, tok: Token, *words: str) -> bool:
        return tok.kind == "word" and tok.word is not None and plain(tok.word) in words

    def _linebreak(self) -> None:
        while self.peek().kind == "nl":
            self.take()

    def _list(self, stop: set[str], one_line: bool = False) -> Script:
        """A compound list: and-or lists separated by ``;``, ``&`` or newlines, up to a word in ``stop``
        (a reserved word, or ``)`` / ``;;``) — or, for a top-level line, up to the newline."""
        items: list[Item] = []
        while True:
            if not one_line:
                self._linebreak()
            tok = self.peek()
            if tok.kind == "eof" or (tok.kind == "nl" and one_line) or self._stops(tok, stop):
                break
            body = self._and_or()
            item = Item(body)
            items.append(item)
            tok = self.peek()
            if tok.kind == "op" and tok.text in (";", "&"):
                self.take()
                item.background = tok.text == "&"
                continue
            if tok.kind == "nl":
                if one_line:
                    break
                continue
            break
        if not items and not one_line:
            raise self._unexpected(self.peek())
        return Script(items)

    def _stops(self, tok: Token, stop: set[str]) -> bool:
        if tok.kind == "op":
            return tok.text in stop
        return tok.kind == "word" and plain(tok.word or []) in stop

    def _and_or(self) -> AndOr:
        node = AndOr(self._pipeline())
        while self.peek().kind == "op" and self.peek().text in ("&&", "||"):
            op = self.take().text
            self._linebreak()
            node.rest.append((op, self._pipeline()))
        return node

    def _pipeline(self) -> Pipeline:
        start = self.peek().start
        negate = False
        while self._is_reserved(self.peek(), "!"):
            self.take()
            negate = not negate
        commands = [self._command()]
        while self.peek().kind == "op" and self.peek().text == "|":
            self.take()
            self._linebreak()
            commands.append(self._command())
        return Pipeline(commands, negate, start)

    def _command(self) -> Command:
        tok = self.peek()
        if tok.kind == "op" and tok.text == "(":
            self.take()
            body = self._list(stop={")"})
            self._expect_op(")")
            return Compound(Group(body, subshell=True), self._redirects())
        word = plain(tok.word or []) if tok.kind == "word" else None
        if word in ("if", "while", "until", "for", "case", "{"):
            self.take()
            body = {"if": self._if, "while": self._loop, "until": self._loop, "for": self._for,
                    "case": self._case, "{": self._brace}[word](word)
            return Compound(body, self._redirects())
        if word in ("then", "elif", "else", "fi", "do", "done", "esac", "}", "in"):
            raise self._unexpected(tok)
        if word == "function":  # bash, and ash's bash compatibility
            self.take()
            name = self.take()
            if name.kind != "word" or not name.word or plain(name.word) is None:
                raise self._unexpected(name)
            if self.peek().kind == "op" and self.peek().text == "(":
                self.take()
                self._expect_op(")")
            return self._function_body(plain(name.word) or "")
        if tok.kind == "op" and tok.text not in REDIRECTIONS:
            raise self._unexpected(tok)
        return self._simple()

    def _function_body(self, name: str) -> FuncDef:
        self._linebreak()
        body = self._command()
        if not isinstance(body, Compound):
            raise self._unexpected(self.peek())
        return FuncDef(name, body)

    def _simple(self) -> Command:
        cmd = Simple([], [], [], self.peek().line)
        while True:
            tok = self.peek()
            if tok.kind in ("io",) or (tok.kind == "op" and tok.text in REDIRECTIONS):
                cmd.redirs.append(self._redirect())
                continue
            if tok.kind != "word":
                break
            assert tok.word is not None
            if not cmd.words:
                name, eq, _ = tok.text.partition("=")
                if eq and is_name(name) and isinstance(tok.word[0], Lit) and tok.word[0].text.startswith(name + "="):
                    self.take()
                    first = Lit(tok.word[0].text[len(name) + 1:])
                    value = ([first] if first.text else []) + tok.word[1:]
                    if self.peek().kind == "op" and self.peek().text == "(" and not value:
                        raise self._unexpected(self.peek())  # name=( … ): arrays are bash's, not ash's
                    cmd.assigns.append((name, value))
                    continue
            self.take()
            cmd.words.append(tok.word)
            if len(cmd.words) == 1 and not cmd.assigns and self.peek().kind == "op" and self.peek().text == "(":
                name = plain(tok.word)
                self.take()
                self._expect_op(")")
                if name is None or not is_name(name.replace("-", "_")):
                    raise ShellSyntaxError('")"', line=tok.line)
                return self._function_body(name)
        if not cmd.words and not cmd.assigns and not cmd.redirs:
            raise self._unexpected(self.peek())
        return cmd

    def _redirect(self) -> Redir:
        tok = self.take()
        fd = tok.fd
        op = tok.text
        if fd < 0:
            fd = 0 if op in ("<", "<&", "<<", "<<-", "<>", "<<<") else 1
        target = self.take()
        if target.kind != "word" or target.word is None:
            raise self._unexpected(target)
        redir = Redir(fd, op, target.word)
        if op in ("<<", "<<-"):
            quoted = any(not isinstance(p, Lit) for p in target.word)
            delim = "".join(_unquoted_text(p) for p in target.word)
            self._heredocs.append((redir, delim, op == "<<-", not quoted))
        return redir

    def _redirects(self) -> list[Redir]:
        redirs = []
        while self.peek().kind == "io" or (self.peek().kind == "op" and self.peek().text in REDIRECTIONS):
            redirs.append(self._redirect())
        return redirs

    def _expect_op(self, op: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.text != op:
            raise self._unexpected(tok, f'"{op}"')

    def _expect_word(self, word: str) -> None:
        tok = self.take()
        if not self._is_reserved(tok, word):
            raise self._unexpected(tok, f'"{word}"')

    def _if(self, _: str) -> If:
        branches = []
        otherwise = None
        while True:
            cond = self._list(stop={"then"})
            self._expect_word("then")
            body = self._list(stop={"elif", "else", "fi"})
            branches.append((cond, body))
            tok = self.take()
            if self._is_reserved(tok, "elif"):
                continue
            if self._is_reserved(tok, "else"):
                otherwise = self._list(stop={"fi"})
                self._expect_word("fi")
            elif not self._is_reserved(tok, "fi"):
                raise self._unexpected(tok, '"fi"')
            return If(branches, otherwise)

    def _loop(self, word: str) -> Loop:
        cond = self._list(stop={"do"})
        self._expect_word("do")
        body = self._list(stop={"done"})
        self._expect_word("done")
        return Loop(word == "until", cond, body)

    def _for(self, _: str) -> For:
        name = self.take()
        if name.kind != "word" or not is_name(name.text):
            raise self._unexpected(name)
        self._linebreak()
        words: list[Word] | None = None
        if self._is_reserved(self.peek(), "in"):
            self.take()
            words = []
            while self.peek().kind == "word":
                tok = self.take()
                assert tok.word is not None
                words.append(tok.word)
            tok = self.peek()
            if tok.kind == "op" and tok.text == ";" or tok.kind == "nl":
                self.take()
            else:
                raise self._unexpected(tok)
        elif self.peek().kind == "op" and self.peek().text == ";":
            self.take()
        self._linebreak()
        self._expect_word("do")
        body = self._list(stop={"done"})
        self._expect_word("done")
        return For(name.text, words, body)

    def _case(self, _: str) -> Case:
        subject = self.take()
        if subject.kind != "word" or subject.word is None:
            raise self._unexpected(subject)
        self._linebreak()
        self._expect_word("in")
        arms: list[tuple[list[Word], Script]] = []
        while True:
            self._linebreak()
            tok = self.peek()
            if self._is_reserved(tok, "esac"):
                self.take()
                return Case(subject.word, arms)
            if tok.kind == "op" and tok.text == "(":
                self.take()
            patterns = []
            while True:
                pat = self.take()
                if pat.kind != "word" or pat.word is None:
                    raise self._unexpected(pat)
                patterns.append(pat.word)
                nxt = self.take()
                if nxt.kind == "op" and nxt.text == "|":
                    continue
                if nxt.kind == "op" and nxt.text == ")":
                    break
                raise self._unexpected(nxt, '")"')
            self._linebreak()
            if self._stops(self.peek(), {";;", "esac"}):
                body = Script([])
            else:
                body = self._list(stop={";;", "esac"})
            arms.append((patterns, body))
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text == ";;":
                self.take()
                continue
            if self._is_reserved(nxt, "esac"):
                continue
            raise self._unexpected(nxt, '";;"')

    def _brace(self, _: str) -> Group:
        body = self._list(stop={"}"})
        self._expect_word("}")
        return Group(body, subshell=False)


def _unquoted_text(part: Part) -> str:
    if isinstance(part, (Lit, Quoted)):
        return part.text
    if isinstance(part, DQ):
        return "".join(_unquoted_text(p) for p in part.parts)
    return ""
