"""Who a request comes from and what it may do, as kube-apiserver decides it.

One job per module:

- :mod:`.policy`: the default roles and bindings kube-apiserver's bootstrap policy and kubeadm create;
- :mod:`.rbac`: the RBAC authorizer (plugin/pkg/auth/authorizer/rbac), with its decisions cached until an RBAC
  object changes;
- :mod:`.users`: user info, the request's attributes (apiserver RequestInfo) and the 403 wording;
- :mod:`.tokens`: ServiceAccount tokens: the TokenRequest API, the signed JWTs and their authentication;
- :mod:`.clientcerts`: client certificates verified against the cluster CA (the x509 authenticator);
- :mod:`.impersonation`: ``Impersonate-User`` / ``Impersonate-Group`` (kubectl ``--as`` / ``--as-group``);
- :mod:`.escalation`: no one grants through a role or binding more than they hold (unless ``escalate``/``bind``).

The RBAC kinds are defaulted and validated with the other kinds (``sandbox/defaults.py``, ``validation.py``). The
review resources that ask these questions (``kubectl auth can-i``, ``whoami``, TokenReview) are in
``sandbox/reviews.py``; the path from pods to the API server (``https://kubernetes.default.svc``) is in
``sandbox/dataplane/apiserver.py``.
"""
