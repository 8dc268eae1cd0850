"""How ``traffic.send`` reads a batch of curls back: one request per curl, never more, never fewer."""

from __future__ import annotations

from k8snet.traffic import MARKER, ExecOutput, parse_curl_loop, reported

ANSWERED = f"web-1\n{MARKER} 200 0.001012 10.244.1.5\n"
REFUSED = f"\n{MARKER} 000 0.000000 \n"


def test_each_marker_is_one_request_and_a_failed_curl_takes_its_error_in_order():
    stderr = "curl: (7) Failed to connect to web port 80 after 0 ms: Couldn't connect to server\n"
    out = parse_curl_loop(ANSWERED + REFUSED + ANSWERED, stderr, 3)
    assert [r.outcome for r in out] == ["web-1", "refused", "web-1"]
    assert [r.remote_ip for r in out] == ["10.244.1.5", None, "10.244.1.5"]


def test_curls_an_ended_exec_never_reported_count_as_failed_not_as_missing():
    """Sending them again would put more requests through the path than were asked for (a proxy's counters, a
    seeded choice's draws): the batch stays at k, and the silent ones say how the exec ended."""
    result = ExecOutput(ANSWERED * 2, "k8snet sandbox: `sh -c …` went over its CPU budget (10 s)\n", 137)
    out = reported(parse_curl_loop(result.stdout, result.stderr, 5), 5, result)
    assert [r.i for r in out] == [0, 1, 2, 3, 4]
    assert [r.outcome for r in out] == ["web-1", "web-1", "failed", "failed", "failed"]
    assert out[4].error == ("no answer: the exec ended first (exit code 137: k8snet sandbox: `sh -c …` went over "
                            "its CPU budget (10 s))")


def test_a_complete_batch_is_left_alone():
    result = ExecOutput(ANSWERED, "", 0)
    assert reported(parse_curl_loop(result.stdout, "", 1), 1, result)[0].outcome == "web-1"
