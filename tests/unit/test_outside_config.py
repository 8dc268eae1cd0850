"""k8snet.outside: the one nginx configuration both backends serve the outside world from (the sandbox's nginx
emulation reads it; on kind the real nginx does), checked as nginx reads it: every directive one the emulation
plays, one server per host and port on the host's own address, the certificate of each HTTPS host."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from k8snet import outside
from k8snet.kind import versions
from k8snet.sandbox.dataplane import nginx
from k8snet.sandbox.dataplane.files import FileSystem
from k8snet.sandbox.pki import make_ca

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def loaded() -> tuple[nginx.Config, FileSystem]:
    key, ca = make_ca(outside.CA_NAME, NOW)
    fs = FileSystem({outside.CONF: outside.nginx_conf().encode(), **outside.certificate_files(key, ca, NOW)}, set())
    return nginx.load(fs, lambda name: None, "1.29.1"), fs


def test_the_image_is_the_nginx_lesson_image_kind_preloads():
    assert outside.IMAGE == versions.NGINX_IMAGE and outside.IMAGE in versions.LESSON_IMAGES


def test_nginx_reads_it_and_every_directive_is_one_the_sandbox_plays():
    config, _ = loaded()
    assert config.not_emulated == []
    listens = {(ls.address, ls.port, ls.ssl) for s in config.servers for ls in s.listens}
    assert listens == {(h.ip, port, role == "https") for h in outside.HOSTS for (port, _), role in h.ports.items()}


def test_each_host_answers_for_itself_whatever_the_host_header():
    config, fs = loaded()
    for host in outside.HOSTS:
        for (port, _), scheme in host.ports.items():
            ex = nginx.Exchange(fs=fs, version="1.29.1", method="POST", uri="/v1/charges?limit=3",
                                headers={"Host": "elsewhere.example"}, body=b"{}", client="192.0.2.1:41234",
                                port=port, scheme=scheme, date="-", mtime=lambda path: NOW,
                                error_log=lambda *a, **k: None, upstream=lambda *a: ("refused", ""), address=host.ip)
            a = nginx.answer(config, ex, tls=scheme == "https")
            if host.api:
                assert a.headers["Content-Type"] == "application/json"
                assert a.body.decode() == (
                    f'{{\n  "host": "{host.name}",\n  "method": "POST",\n  "path": "/v1/charges?limit=3",\n'
                    f'  "scheme": "{scheme}",\n  "client": "192.0.2.1:41234"\n}}\n')
            else:
                assert a.headers["Content-Type"] == "text/plain; charset=utf-8"
                assert a.body.decode() == (f"{host.name}: POST /v1/charges?limit=3 over {scheme.upper()} from "
                                           "192.0.2.1:41234\n")


def test_https_hosts_present_their_own_name_signed_by_the_ca():
    key, ca = make_ca(outside.CA_NAME, NOW)
    files = outside.certificate_files(key, ca, NOW)
    https = [h for h in outside.HOSTS if h.https]
    assert sorted(files) == sorted([h.cert for h in https] + [h.key for h in https])
    for host in https:
        cert = x509.load_pem_x509_certificate(files[host.cert])
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [host.name] and cert.issuer == ca.subject
