"""Shell arithmetic, ``$(( … ))`` (XCU 2.6.4): signed 64-bit integers and C's operators, with variables.

Read into a small tree first so ``&&``, ``||`` and ``?:`` skip the side effects (``i++``) of the branch not
taken, as the shells do. A name's value is itself read as a number (an unset or empty variable is 0).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+|[0-9]+|[A-Za-z_][A-Za-z0-9_]*|\*\*=?|<<=|>>=|\+\+|--|&&|\|\||"
                   r"[<>=!]=|<<|>>|[-+*/%&|^]=|[-+*/%<>&|^!~?:(),=])")
BINARY = {"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, "<=": 7, ">": 7, ">=": 7, "<<": 8,
          ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10, "**": 11}
ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "^=", "|=", "**="}
MASK = (1 << 64) - 1


class ArithError(Exception):
    """An expression the shell cannot evaluate; the text is what ash prints after ``sh: arithmetic``."""


def wrap(value: int) -> int:
    """Two's complement 64-bit overflow, as the shells' intmax_t arithmetic has it."""
    value &= MASK
    return value - (1 << 64) if value >> 63 else value


def number(text: str) -> int:
    """A decimal, octal (``017``) or hex (``0x1f``) constant.

    Raises:
        ArithError: not a number.
    """
    t = text.strip()
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    try:
        if t.lower().startswith("0x"):
            return sign * int(t[2:], 16)
        if len(t) > 1 and t.startswith("0"):
            return sign * int(t, 8)
        return sign * int(t)
    except ValueError:
        raise ArithError(f"arithmetic syntax error: \"{text}\"") from None


@dataclass
class Node:
    op: str
    args: tuple


def evaluate(text: str, get: Callable[[str], str], set_: Callable[[str, str], None]) -> int:
    """Evaluate ``text``; ``get``/``set_`` read and assign shell variables.

    Raises:
        ArithError: a syntax error or a division by zero.
    """
    tokens = [m.group(1) for m in _tokens(text)]
    if not tokens:
        return 0
    parser = _Parser(tokens, text)
    tree = parser.comma()
    if parser.i != len(tokens):
        raise ArithError(f"arithmetic syntax error: \"{text.strip()}\"")
    return _eval(tree, get, set_, 0)


def _tokens(text: str) -> list[re.Match[str]]:
    out, i = [], 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = TOKEN.match(text, i)
        if m is None:
            raise ArithError(f"arithmetic syntax error: \"{text.strip()}\"")
        out.append(m)
        i = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str], text: str):
        self.t, self.i, self.text = tokens, 0, text

    def _peek(self) -> str:
        return self.t[self.i] if self.i < len(self.t) else ""

    def _fail(self) -> ArithError:
        return ArithError(f"arithmetic syntax error: \"{self.text.strip()}\"")

    def comma(self) -> Node:
        node = self.assign()
        while self._peek() == ",":
            self.i += 1
            node = Node(",", (node, self.assign()))
        return node

    def assign(self) -> Node:
        start = self.i
        if _is_name(self._peek()) and self.i + 1 < len(self.t) and self.t[self.i + 1] in ASSIGN:
            name, op = self.t[self.i], self.t[self.i + 1]
            self.i += 2
            return Node("assign", (name, op, self.assign()))
        self.i = start
        return self.ternary()

    def ternary(self) -> Node:
        cond = self.binary(1)
        if self._peek() != "?":
            return cond
        self.i += 1
        yes = self.comma()
        if self._peek() != ":":
            raise self._fail()
        self.i += 1
        return Node("?:", (cond, yes, self.assign()))

    def binary(self, level: int) -> Node:
        left = self.unary()
        while (op := self._peek()) in BINARY and BINARY[op] >= level:
            self.i += 1
            right = self.binary(BINARY[op] + (0 if op == "**" else 1))
            left = Node(op, (left, right))
        return left

    def unary(self) -> Node:
        tok = self._peek()
        if tok in ("+", "-", "!", "~"):
            self.i += 1
            return Node("u" + tok, (self.unary(),))
        if tok in ("++", "--"):
            self.i += 1
            name = self._peek()
            if not _is_name(name):
                raise self._fail()
            self.i += 1
            return Node("pre" + tok, (name,))
        return self.postfix()

    def postfix(self) -> Node:
        tok = self._peek()
        if not tok:
            raise self._fail()
        self.i += 1
        if tok == "(":
            node = self.comma()
            if self._peek() != ")":
                raise self._fail()
            self.i += 1
            return node
        if _is_name(tok):
            if self._peek() in ("++", "--"):
                op = self.t[self.i]
                self.i += 1
                return Node("post" + op, (tok,))
            return Node("var", (tok,))
        if tok[0].isdigit():
            return Node("num", (number(tok),))
        raise self._fail()


def _is_name(tok: str) -> bool:
    return bool(tok) and (tok[0].isalpha() or tok[0] == "_")


def _value(name: str, get: Callable[[str], str], depth: int) -> int:
    text = get(name).strip()
    if not text:
        return 0
    try:
        return number(text)
    except ArithError:
        if depth > 10:
            raise ArithError(f"{name}: expression recursion loop detected") from None
        return evaluate_nested(text, get, depth + 1)


def evaluate_nested(text: str, get: Callable[[str], str], depth: int) -> int:
    parser = _Parser([m.group(1) for m in _tokens(text)], text)
    return _eval(parser.comma(), get, lambda _n, _v: None, depth)


def _eval(node: Node, get: Callable[[str], str], set_: Callable[[str, str], None], depth: int) -> int:
    op, a = node.op, node.args

    def ev(n: Node) -> int:
        return _eval(n, get, set_, depth)

    if op == "num":
        return a[0]
    if op == "var":
        return _value(a[0], get, depth)
    if op == ",":
        ev(a[0])
        return ev(a[1])
    if op == "assign":
        name, aop, expr = a
        value = ev(expr)
        if aop != "=":
            value = _binary(aop[:-1], _value(name, get, depth), value)
        set_(name, str(value))
        return value
    if op in ("pre++", "pre--", "post++", "post--"):
        old = _value(a[0], get, depth)
        new = wrap(old + (1 if op.endswith("++") else -1))
        set_(a[0], str(new))
        return new if op.startswith("pre") else old
    if op == "?:":
        return ev(a[1]) if ev(a[0]) else ev(a[2])
    if op == "&&":
        return int(bool(ev(a[0])) and bool(ev(a[1])))
    if op == "||":
        return int(bool(ev(a[0])) or bool(ev(a[1])))
    if op.startswith("u"):
        v = ev(a[0])
        return {"u+": v, "u-": wrap(-v), "u!": int(not v), "u~": wrap(~v)}[op]
    return _binary(op, ev(a[0]), ev(a[1]))


def _binary(op: str, x: int, y: int) -> int:
    if op in ("/", "%"):
        if y == 0:
            raise ArithError("arithmetic: division by zero")
        q = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)  # C truncates toward zero
        return wrap(q) if op == "/" else wrap(x - q * y)
    if op == "**":
        if y < 0:
            raise ArithError("arithmetic: exponent less than 0")
        return wrap(pow(x, y, 1 << 64))
    return wrap({
        "+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "<<": lambda: x << (y & 63),
        ">>": lambda: x >> (y & 63), "&": lambda: x & y, "|": lambda: x | y, "^": lambda: x ^ y,
        "==": lambda: int(x == y), "!=": lambda: int(x != y), "<": lambda: int(x < y), "<=": lambda: int(x <= y),
        ">": lambda: int(x > y), ">=": lambda: int(x >= y),
    }[op]())
