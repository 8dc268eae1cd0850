"""The learner's views of certificates, from data built by hand: a handshake's verdict from what curl printed and
nginx answered (curl.se/libcurl/libcurl-errors.html; nginx src/http/ngx_http_request.c), and the timeline and
matrix pictures, read back by what they draw at notebook width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from k8snet.certs import handshakes
from k8snet.certs.timeline import Issued, Timeline
from k8snet.traffic import PodRef

NGINX_400 = ("<html>\n<head><title>400 No required SSL certificate was sent</title></head>\n<body>\n"
             "<center><h1>400 Bad Request</h1></center>\n<center>No required SSL certificate was sent</center>\n")


@pytest.mark.parametrize(("stdout", "stderr", "code", "ok", "reason"), [
    ("hello CN=alice\n\n@@k8snet-status 200\n", "", 0, True, "200: hello CN=alice"),
    (NGINX_400 + "\n@@k8snet-status 400\n", "", 0, False, "400: no client certificate sent"),
    ("<title>400 The SSL certificate error</title>\n@@k8snet-status 400\n", "", 0, False,
     "400: client certificate refused"),
    ("\n@@k8snet-status 000\n", "curl: (56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert "
     "certificate required, errno 0", 56, False, "TLS alert: certificate required"),
    ("\n@@k8snet-status 000\n", "curl: (60) SSL certificate problem: certificate has expired", 60, False,
     "server certificate expired"),
    ("\n@@k8snet-status 000\n", "curl: (60) SSL: no alternative certificate subject name matches target host "
     "name '10.96.0.7'", 60, False, "server certificate: wrong name"),
    ("", "curl: (7) Failed to connect to web port 443 after 1 ms: Could not connect to server", 7, False,
     "connection refused"),
])
def test_a_handshake_reads_as_what_happened(stdout, stderr, code, ok, reason):
    shake = handshakes.parse("alice", "web", stdout, stderr, code)
    assert (shake.ok, shake.reason) == (ok, reason)
    assert str(shake) == f"alice → web: {'✓' if ok else '✗'} {reason}"


def test_the_command_presents_a_certificate_only_when_the_client_has_one():
    pod = PodRef("shop", "client")
    bare = handshakes.command("https://web/", handshakes.Client(pod, "/ca.crt"))
    assert "--cert" not in bare and bare[-1] == "https://web/" and "--cacert" in bare
    full = handshakes.command("https://web/", handshakes.Client(pod, "/ca.crt", "/id/tls.crt", "/id/tls.key"))
    assert full[full.index("--cert") + 1] == "/id/tls.crt" and full[full.index("--key") + 1] == "/id/tls.key"


def test_the_matrix_picture_colours_and_words_every_cell():
    m = handshakes.HandshakeMatrix(["alice", "nobody"], ["web"], backend="sandbox")
    m.cells[("alice", "web")] = handshakes.parse("alice", "web", "hi\n@@k8snet-status 200\n", "", 0)
    m.cells[("nobody", "web")] = handshakes.parse("nobody", "web", NGINX_400 + "@@k8snet-status 400\n", "", 0)
    fig = m.plot()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["✓ 200: hi", "✗ 400: no client certificate sent"]
    assert {p.get_gid() for p in fig.axes[0].patches} == {"cell:alice>web", "cell:nobody>web"}
    assert fig.get_size_inches()[0] <= 10  # notebook width
    assert "✓ 200: hi" in repr(m) and "✗ 400: no client certificate sent" in repr(m)


def test_the_timeline_draws_each_issued_certificate_and_its_renewal():
    start = datetime(2026, 1, 1, tzinfo=UTC)

    class Frozen:  # a cluster stand-in: the picture only needs the backend's name
        backend = "sandbox"

    t = Timeline(Frozen(), "shop")  # type: ignore[arg-type]
    day = timedelta(days=1)
    t.issued[("web", "aa")] = Issued("web", 1, "aa", start, start + 90 * day, start + 60 * day)
    t.issued[("web", "bb")] = Issued("web", 2, "bb", start + 60 * day, start + 150 * day, start + 120 * day)
    t.observed = [(start, "issued"), (start + 60 * day, "renewed")]
    fig = t.plot()
    ax = fig.axes[0]
    bars = {p.get_gid(): p for p in ax.patches if p.get_gid()}
    assert set(bars) == {"issued:web:1", "issued:web:2"}
    assert (bars["issued:web:2"].get_x(), bars["issued:web:2"].get_width()) == pytest.approx((60, 90))
    renewals = [line.get_xdata()[0] for line in ax.lines if line.get_gid() == "renewal:web"]
    assert sorted(renewals) == pytest.approx([60, 120])
    assert {"issued", "renewed"} <= {x.get_text() for x in ax.texts}
    assert fig.get_size_inches()[0] <= 10
