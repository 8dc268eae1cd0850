"""The container shell: busybox ash (and dash, bash) as scripts in manifests and tutorials use them.

Expected outputs are what busybox 1.36 ash prints for the same script (POSIX XCU 2 "Shell Command Language"
for the semantics; ash's wording for its messages: shell/ash.c raise_error_unexpected_syntax, ash_msg).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from tests.unit.test_commands import running, sb  # noqa: F401  (the sandbox fixture)

from k8snet.sandbox.dataplane.shell import arith
from k8snet.sandbox.dataplane.shell.syntax import Parser, ShellSyntaxError
from k8snet.sandbox.instance import Sandbox


@pytest.fixture
def box(sb: Sandbox) -> dict[str, Any]:  # noqa: F811
    return running(sb, "box", image="busybox:1.36", command=["sleep", "3600"])


def ash(sb: Sandbox, pod: dict[str, Any], script: str, *extra: str) -> tuple[str, str, int]:  # noqa: F811
    result = asyncio.run(sb.dataplane.exec(pod, "main", ["sh", "-c", script, *extra]))
    return result.stdout.decode(), result.stderr.decode(), result.exit_code


CASES = [
    # lists, status, exit
    ("echo a; false; echo $?", "a\n1\n"),
    ("true && echo yes || echo no; false && echo yes || echo no", "yes\nno\n"),
    ("! false && echo negated", "negated\n"),
    # compound commands
    ("if [ 1 -lt 2 ]; then echo lt; elif true; then echo x; else echo ge; fi", "lt\n"),
    ("if false; then :; elif [ a = a ]; then echo elif; fi", "elif\n"),
    ("i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done", "0\n1\n2\n"),
    ("i=0; until [ $i -ge 2 ]; do i=$((i+1)); done; echo $i", "2\n"),
    ("for x in a 'b c' d; do echo \"<$x>\"; done", "<a>\n<b c>\n<d>\n"),
    ("for i in 1 2 3 4; do [ $i = 2 ] && continue; [ $i = 4 ] && break; echo $i; done", "1\n3\n"),
    ("for i in 1 2; do for j in a b; do [ $j = b ] && continue 2; echo $i$j; done; done", "1a\n2a\n"),
    ("case web-7d9f in web-*) echo web;; db*) echo db;; *) echo other;; esac", "web\n"),
    ("case x in a|x) echo ax;; esac; case '*' in \\*) echo star;; esac", "ax\nstar\n"),
    ("{ echo a; echo b; } > /tmp/g; cat /tmp/g", "a\nb\n"),
    ("x=1; (x=2; echo $x); echo $x", "2\n1\n"),
    ("f() { echo \"f:$1:$#\"; return 3; }; f one two; echo $?", "f:one:2\n3\n"),
    ("g() { local v=in; echo $v; }; v=out; g; echo $v", "in\nout\n"),
    # expansions
    ("echo ${unset:-default} ${unset-d2} ${e:=set}; echo $e", "default d2 set\nset\n"),
    ("v=hello.tar.gz; echo ${v%.*} ${v%%.*} ${v#*.} ${v##*.} ${#v}", "hello.tar hello tar.gz gz 12\n"),
    ("v=a-b-c; echo ${v/-/+} ${v//-/+} ${v:2} ${v:1:3}", "a+b-c a+b+c b-c -b-\n"),
    ("echo ${x:+alt}; x=1; echo ${x:+alt}", "\nalt\n"),
    ("echo $((3 + 4 * 2)) $((7 / 2)) $((-7 % 3)) $((1 << 4)) $((2 ** 10)) $((5 > 3 ? 10 : 20))",
     "11 3 -1 16 1024 10\n"),
    ("n=5; echo $((n *= 2)) $n; echo $((0x10 + 010))", "10 10\n24\n"),
    ("echo $(echo inner) `echo back` \"$(printf 'a\\n\\n')\"", "inner back a\n"),
    ("x=$(false); echo $?", "1\n"),
    ("v='a  b'; printf '[%s]' $v; echo; printf '[%s]' \"$v\"; echo", "[a][b]\n[a  b]\n"),
    ("set -- 'x y' z; for a in \"$@\"; do echo \"<$a>\"; done; echo $# \"$*\"", "<x y>\n<z>\n2 x y z\n"),
    ("IFS=:; v=a:b:c; for p in $v; do echo $p; done", "a\nb\nc\n"),
    ("echo '$HOME' \"\\$x\" a\\ b", "$HOME $x a b\n"),
    ("echo $'tab\\there'", "tab\there\n"),
    ("cd /tmp; touch a1 a2 b1; echo a*; echo 'a*'; echo z*", "a1 a2\na*\nz*\n"),
    # here-documents, read, pipes
    ("cat <<EOF\nhost: $(hostname)\nliteral \\$x\nEOF", "host: box\nliteral $x\n"),
    ("cat <<'EOF'\n$(not run)\nEOF", "$(not run)\n"),
    ("cat <<-EOF\n\tindented\n\tEOF\necho after", "indented\nafter\n"),
    ("printf 'a b\\nc d\\n' > /tmp/r; while read x y; do echo \"$y-$x\"; done < /tmp/r", "b-a\nd-c\n"),
    ("echo hello | cat | cat", "hello\n"),
    ("echo 'x y' | { read a b; echo $b; }", "y\n"),
    ("cat <<< here", "here\n"),
    # redirections
    ("echo out >&2 2>/dev/null", ""),
    ("exec > /tmp/all; echo one; echo two; exec >&2", ""),
    ("{ echo e >&2; } 2>&1 | cat", "e\n"),
    # options
    ("set -e; echo a; false; echo not-reached", "a\n"),
    ("set -e; if false; then :; fi; false || true; echo survived", "survived\n"),
    ("set -- a b c; shift; echo $1 $#", "b 2\n"),
    ("command -v wget; command -v cd; command -v nope || echo none", "/bin/wget\ncd\nnone\n"),
    ("trap 'echo bye' EXIT; echo hi", "hi\nbye\n"),
    ("eval 'x=5; echo $x'", "5\n"),
]


@pytest.mark.parametrize("script, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_ash_runs_the_script_as_busybox_does(sb, box, script, expected):  # noqa: F811
    out, err, code = ash(sb, box, script)
    assert out == expected, err


def test_exit_status_and_the_syntax_errors_ash_prints(sb, box):  # noqa: F811
    assert ash(sb, box, "exit 3") == ("", "", 3)
    assert ash(sb, box, "set -e; false; echo no")[2] == 1
    assert ash(sb, box, "fi") == ("", 'sh: syntax error: unexpected "fi"\n', 2)
    assert ash(sb, box, "echo first\nwhile true; do echo") == (
        "first\n", 'sh: syntax error: unexpected end of file (expecting "done")\n', 2)
    assert ash(sb, box, "echo 'open") == ("", "sh: syntax error: unterminated quoted string\n", 2)
    assert ash(sb, box, "a=(1 2)") == ("", 'sh: syntax error: unexpected "("\n', 2)
    assert ash(sb, box, "curl x") == ("", "sh: curl: not found\n", 127)
    assert ash(sb, box, "echo ${x?must be set}; echo no") == ("", "sh: x: must be set\n", 2)
    assert ash(sb, box, "set -u; echo $nope") == ("", "sh: nope: parameter not set\n", 2)
    assert ash(sb, box, "echo $((1/0))")[1:] == ("sh: arithmetic: division by zero\n", 2)
    assert ash(sb, box, "echo $0 $1", "name", "arg") == ("name arg\n", "", 0)


def test_dash_and_bash_word_their_errors_their_own_way(sb):  # noqa: F811
    nginx = running(sb, "web", image="nginx:1.27")
    result = asyncio.run(sb.dataplane.exec(nginx, "main", ["sh", "-c", "echo ok\nnope"]))
    assert (result.stdout, result.stderr) == (b"ok\n", b"sh: 2: nope: not found\n")
    result = asyncio.run(sb.dataplane.exec(nginx, "main", ["sh", "-c", "fi"]))
    assert result.stderr == b'sh: 1: Syntax error: "fi" unexpected\n'
    result = asyncio.run(sb.dataplane.exec(nginx, "main", ["bash", "-c", "fi"]))
    assert result.stderr == b"bash: -c: line 1: syntax error near unexpected token `fi'\n"


def test_background_jobs_run_beside_the_shell_and_wait_collects_them(sb, box):  # noqa: F811
    out, _, code = ash(sb, box, "(sleep 0.2; echo late) & echo early; wait; echo done $!")
    assert out.splitlines()[:3] == ["early", "late", "done 2"] and code == 0
    assert ash(sb, box, "sleep 100 & kill $!; wait $!; echo $?")[0] == "143\n"


def test_sleep_waits_on_the_sandbox_clock_and_an_advance_wakes_it(sb, box):  # noqa: F811
    async def scenario() -> tuple[Any, float]:
        began = time.monotonic()
        task = asyncio.create_task(sb.dataplane.exec(box, "main", ["sh", "-c", "sleep 3600; echo woke"]))
        await asyncio.sleep(0.2)
        assert not task.done()
        sb.clock.advance(3600)
        result = await asyncio.wait_for(task, 5)
        return result, time.monotonic() - began

    result, _ = asyncio.run(scenario())
    assert result.stdout == b"woke\n"


def test_a_busy_loop_is_ended_by_its_cpu_budget_not_run_for_ever(sb, box):  # noqa: F811
    from k8snet.sandbox.dataplane.commands import run_probe

    result = asyncio.run(run_probe(sb.dataplane, box, "main", ["sh", "-c", "while :; do :; done"], 0.5))
    assert result.exit_code == 137 and "CPU budget (0.5 s)" in result.stderr.decode()


def test_reading_is_linear_and_deep_nesting_is_refused_not_crashed():
    script = "true\n" * 20000
    began = time.perf_counter()
    parser = Parser(script)
    count = 0
    while parser.next_line() is not None:
        count += 1
    assert count == 20000 and time.perf_counter() - began < 30  # a sanity bound, far from the real figure
    with pytest.raises(ShellSyntaxError):
        Parser("if true; then").whole()


def test_arithmetic_wraps_like_64_bit_integers_and_skips_untaken_branches():
    values: dict[str, str] = {"i": "1"}
    assert arith.evaluate("9223372036854775807 + 1", values.get, values.__setitem__) == -(1 << 63)
    assert arith.evaluate("0 && i++", lambda n: values.get(n, ""), values.__setitem__) == 0 and values["i"] == "1"
    assert arith.evaluate("i++ + ++i", lambda n: values.get(n, ""), values.__setitem__) == 4
    with pytest.raises(arith.ArithError):
        arith.evaluate("1 +", lambda n: "", lambda n, v: None)
