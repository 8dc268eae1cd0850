"""Calico's selector language, parsed and evaluated as libcalico-go does (lib/selector/tokenizer/tokenizer.go,
lib/selector/parser/parser.go and ast.go at v3.32.1).

Grammar: ``||`` binds loosest, then ``&&``, then any number of leading ``!``; an operation is ``has(label)``,
``all()``, ``global()``, a parenthesised expression, or ``label OP 'value'`` with OP one of ``==``, ``!=``,
``contains``, ``starts with``, ``ends with``, or ``label in {'a', 'b'}`` / ``label not in {...}``. Strings take
single or double quotes (no escapes). A label is made of ``[A-Za-z0-9_./-]`` (at most 512 characters). The empty
selector is ``all()``. Matching follows ast.go: ``!=`` and ``not in`` match when the label is absent; ``global()``
evaluates true (the policy converter rewrites it to ``!has(projectcalico.org/namespace)`` where it is allowed).

:func:`parse` raises :class:`SelectorError` with the tokenizer's or parser's message; ``str()`` of a parsed
selector is the canonical form (Selector.String: sets sorted and de-duplicated, ``&&``/``||`` groups
parenthesised); :func:`prefixed` is PrefixVisitor (the ``pcns.``/``pcsa.`` label prefixes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

MAX_LABEL_LENGTH = 512
_IDENT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")


class SelectorError(ValueError):
    """A selector Calico's parser rejects (the message is the parser's)."""


# -- tokens --------------------------------------------------------------------------------------------------

LABEL, STRING, LBRACE, RBRACE, COMMA, EQ, NE, IN, NOT, NOT_IN, CONTAINS, STARTS, ENDS, ALL, HAS, LPAREN, RPAREN, \
    AND, OR, GLOBAL, EOF = ("label", "string", "{", "}", ",", "==", "!=", "in", "!", "not in", "contains",
                            "starts with", "ends with", "all()", "has", "(", ")", "&&", "||", "global()", "EOF")


def _cut_ident(text: str) -> tuple[str, str]:
    i = 0
    while i < len(text) and text[i] in _IDENT:
        i += 1
    ident = text[:i]
    if len(ident) > MAX_LABEL_LENGTH:
        raise SelectorError(f"label too long: {ident}")
    if not ident:
        raise SelectorError("expected identifier")
    return ident, text[i:]


def _boundary(rest: str) -> bool:
    return not rest or rest[0] not in _IDENT


def _cut_words(text: str, *words: str) -> str | None:
    """The remainder after the words (spaces between them allowed: "not in" or "notin"), at a word boundary."""
    rest = text
    for word in words:
        if not rest.startswith(word):
            return None
        rest = rest[len(word):].lstrip(" \t")
    return rest if _boundary(rest) else None


def tokenize(text: str) -> list[tuple[str, str]]:
    """tokenizer.Tokenize: (kind, value) pairs ending in EOF."""
    tokens: list[tuple[str, str]] = []
    while True:
        text = text.lstrip(" \t")
        if not text:
            tokens.append((EOF, ""))
            return tokens
        last = tokens[-1][0] if tokens else None
        c = text[0]
        if c in "(){},":
            tokens.append(({"(": LPAREN, ")": RPAREN, "{": LBRACE, "}": RBRACE, ",": COMMA}[c], ""))
            text = text[1:]
        elif c in "\"'":
            end = text.find(c, 1)
            if end == -1:
                raise SelectorError("unterminated string")
            tokens.append((STRING, text[1:end]))
            text = text[end + 1:]
        elif c == "=":
            if not text.startswith("=="):
                raise SelectorError("expected ==")
            tokens.append((EQ, ""))
            text = text[2:]
        elif c == "!":
            if text.startswith("!="):
                tokens.append((NE, ""))
                text = text[2:]
            else:
                tokens.append((NOT, ""))
                text = text[1:]
        elif c in "&|":
            if not text.startswith(c * 2):
                raise SelectorError(f"expected {c * 2}")
            tokens.append((AND if c == "&" else OR, ""))
            text = text[2:]
        elif last == LABEL:  # after a label, an operator
            for kind, words in ((CONTAINS, ("contains",)), (STARTS, ("starts", "with")), (ENDS, ("ends", "with")),
                                (NOT_IN, ("not", "in")), (IN, ("in",))):
                rest = _cut_words(text, *words)
                if rest is not None:
                    tokens.append((kind, ""))
                    text = rest
                    break
            else:
                raise SelectorError(f'expected operator after label "{tokens[-1][1]}"')
        elif text.startswith("has("):
            ident, rest = _cut_ident(text[4:].lstrip(" \t"))
            rest = rest.lstrip(" \t")
            if not rest.startswith(")"):
                raise SelectorError("no closing ')' after has(")
            tokens.append((HAS, ident))
            text = rest[1:]
        elif text.startswith(("all(", "global(")):
            name = text[:text.index("(")]
            rest = text[len(name) + 1:].lstrip(" \t")
            if not rest.startswith(")"):
                raise SelectorError(f"no closing ')' after {name}(")
            tokens.append((ALL if name == "all" else GLOBAL, ""))
            text = rest[1:]
        else:
            ident, text = _cut_ident(text)
            tokens.append((LABEL, ident))


# -- the tree ------------------------------------------------------------------------------------------------


def _quote(s: str) -> str:
    q = "'" if '"' in s else '"'
    return f"{q}{s}{q}"


@dataclass(frozen=True)
class Node:
    """One node of a parsed selector."""

    op: str
    label: str = ""
    value: str = ""
    values: tuple[str, ...] = ()
    operands: tuple[Node, ...] = ()

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op in (ALL, GLOBAL):
            return True
        if op == HAS:
            return self.label in labels
        if op == NOT:
            return not self.operands[0].evaluate(labels)
        if op == AND:
            return all(o.evaluate(labels) for o in self.operands)
        if op == OR:
            return any(o.evaluate(labels) for o in self.operands)
        found = labels.get(self.label)
        if found is None:
            return op in (NE, NOT_IN)
        return {EQ: lambda: found == self.value, NE: lambda: found != self.value,
                CONTAINS: lambda: self.value in found, STARTS: lambda: found.startswith(self.value),
                ENDS: lambda: found.endswith(self.value), IN: lambda: found in self.values,
                NOT_IN: lambda: found not in self.values}[op]()

    def __str__(self) -> str:
        op = self.op
        if op in (ALL, GLOBAL):
            return op
        if op == HAS:
            return f"has({self.label})"
        if op == NOT:
            return "!" + str(self.operands[0])
        if op in (AND, OR):
            return "(" + f" {op} ".join(str(o) for o in self.operands) + ")"
        if op in (IN, NOT_IN):
            return f"{self.label} {op} {{{', '.join(_quote(v) for v in self.values)}}}"
        return f"{self.label} {op} {_quote(self.value)}"

    def with_prefix(self, prefix: str) -> Node:
        """PrefixVisitor: every label named in the selector gets ``prefix``."""
        if self.operands:
            return Node(self.op, operands=tuple(o.with_prefix(prefix) for o in self.operands))
        if self.label:
            return Node(self.op, prefix + self.label, self.value, self.values)
        return self


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.i = tokens, 0

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def or_expression(self) -> Node:
        nodes = [self.and_expression()]
        while self.peek()[0] == OR:
            self.i += 1
            nodes.append(self.and_expression())
        return nodes[0] if len(nodes) == 1 else Node(OR, operands=tuple(nodes))

    def and_expression(self) -> Node:
        nodes = [self.operation()]
        while self.peek()[0] == AND:
            self.i += 1
            nodes.append(self.operation())
        return nodes[0] if len(nodes) == 1 else Node(AND, operands=tuple(nodes))

    def operation(self) -> Node:
        negated = False
        while self.peek()[0] == NOT:
            negated, self.i = not negated, self.i + 1
        kind, value = self.peek()
        if kind in (HAS, ALL, GLOBAL):
            self.i += 1
            node = Node(kind, label=value)
        elif kind == LABEL:
            if len(self.tokens) - self.i < 3:
                raise SelectorError("unexpected end of string looking for op")
            op, (lit, text) = self.peek(1)[0], self.peek(2)
            if op in (EQ, NE, CONTAINS, STARTS, ENDS):
                if lit != STRING:
                    raise SelectorError("expected string")
                node, self.i = Node(op, value, text), self.i + 3
            elif op in (IN, NOT_IN):
                if lit != LBRACE:
                    raise SelectorError("expected set literal")
                self.i += 3
                values: list[str] = []
                while self.peek()[0] == STRING:
                    values.append(self.peek()[1])
                    self.i += 1
                    if self.peek()[0] != COMMA:
                        break
                    self.i += 1
                if self.peek()[0] != RBRACE:
                    raise SelectorError("expected }")
                self.i += 1
                node = Node(op, value, values=tuple(sorted(set(values))))
            else:
                raise SelectorError(f"expected == or != not: {_token_text(self.peek(1))}")
        elif kind == LPAREN:
            self.i += 1
            node = self.or_expression()
            if self.peek()[0] != RPAREN:
                raise SelectorError("expected )")
            self.i += 1
        else:
            raise SelectorError(f"unexpected token: {_token_text(self.peek())}")
        return Node(NOT, operands=(node,)) if negated else node


def _token_text(token: tuple[str, str]) -> str:
    """A token as Go's Token.String prints it: ``Kind(Value)``."""
    names = {LABEL: "TokLabel", STRING: "TokStringLiteral", LBRACE: "TokLBrace", RBRACE: "TokRBrace",
             COMMA: "TokComma", EQ: "TokEq", NE: "TokNe", IN: "TokIn", NOT: "TokNot", NOT_IN: "TokNotIn",
             CONTAINS: "TokContains", STARTS: "TokStartsWith", ENDS: "TokEndsWith", ALL: "TokAll", HAS: "TokHas",
             LPAREN: "TokLParen", RPAREN: "TokRParen", AND: "TokAnd", OR: "TokOr", GLOBAL: "TokGlobal",
             EOF: "TokEOF"}
    return f"{names[token[0]]}({token[1]})"


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """A selector's tree (Parser.Parse); remembered, as policies are judged on every connection.

    Raises:
        SelectorError: the selector is not valid (the parser's message).
    """
    tokens = tokenize(text)
    if tokens[0][0] == EOF:
        return Node(ALL)
    parser = _Parser(tokens)
    node = parser.or_expression()
    if parser.peek()[0] != EOF:
        rest = " ".join(_token_text(t) for t in tokens[parser.i:])
        raise SelectorError(f"unexpected content at end of selector [{rest}]")
    return node


def validate(text: str) -> str | None:
    """The parser's error for ``text``, or None when it is a valid selector (selector.Validate)."""
    try:
        parse(text)
    except SelectorError as exc:
        return str(exc)
    return None


def prefixed(text: str, prefix: str) -> Node:
    """parseSelectorAttachPrefix (updateprocessors/selectors.go): the selector with every label prefixed."""
    return parse(text).with_prefix(prefix)


def matches(text: str, labels: Mapping[str, str]) -> bool:
    return parse(text).evaluate(labels)
