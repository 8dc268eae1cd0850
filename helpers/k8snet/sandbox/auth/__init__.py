"""Who a request comes from and what it may do, as kube-apiserver decides it.

One job per module:

- :mod:`.kinds`: the four RBAC kinds' defaulting and validation (pkg/apis/rbac);
- :mod:`.policy`: the default roles and bindings kube-apiserver's bootstrap policy and kubeadm create;
- :mod:`.rbac`: the RBAC authorizer (plugin/pkg/auth/authorizer/rbac), with its decisions cached until an RBAC
  object changes;
- :mod:`.users`: user info, the request's attributes (apiserver RequestInfo) and the 403 wording;
- :mod:`.tokens`: ServiceAccount tokens: the TokenRequest API, the signed JWTs and their authentication;
- :mod:`.impersonation`: ``Impersonate-User`` / ``Impersonate-Group`` (kubectl ``--as`` / ``--as-group``).
"""
