"""The certificates API (``certificates.k8s.io/v1`` CertificateSigningRequests), as kube-apiserver and
kube-controller-manager implement it.

One job per module:

- :mod:`.csr`: the request's PEM and PKCS#10 parsing with Go's error texts, its conditions, the signer names;
- :mod:`.validation`: pkg/apis/certificates/validation (create, update, ``/status`` and ``/approval``);
- :mod:`.strategy`: pkg/registry/certificates/certificates/strategy.go (who asked, what each write may change);
- :mod:`.admission`: the CertificateApproval, CertificateSigning and CertificateSubjectRestriction admission
  plugins (plugin/pkg/admission/certificates);
- :mod:`.signers`: what each ``kubernetes.io`` signer accepts (pkg/controller/certificates/signer,
  pkg/apis/certificates/helpers.go);
- :mod:`.authority`: the certificate itself (pkg/controller/certificates/authority), real X.509.

The controllers that act on the requests are ``controllers/csrsigning.py`` and ``controllers/csrcleaner.py``;
client-certificate authentication of the API is ``auth/clientcerts.py``.
"""
