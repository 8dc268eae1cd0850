"""The notebook magics: a YAML cell applied or deleted as kubectl would, and kubectl lines against the
workbook's cluster, registered in IPython by k8snet.connect()."""

from __future__ import annotations

import k8snet
from k8snet import magics

SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=80]
"""


def test_a_yaml_cell_is_applied_and_deleted_as_kubectl_does(sandbox, ns, capsys):
    cluster = k8snet.connect()
    magics._current = cluster
    assert magics.k8s(f"apply -n {ns}", SERVICE) == ["service/web serverside-applied",
                                                      "deployment.apps/web serverside-applied"]
    assert cluster.get("Service", "web", ns)["spec"]["ports"][0]["port"] == 80
    assert magics.kubectl(f"get deployment web -n {ns} -o name") == 0
    assert capsys.readouterr().out.endswith("deployment.apps/web\n")
    assert magics.k8s(f"delete -n {ns}", SERVICE) == ['service "web" deleted', 'deployment.apps "web" deleted']
    assert magics.kubectl(f"get service web -n {ns}") == 1
    assert 'services "web" not found' in capsys.readouterr().out


def test_load_ext_registers_the_magics_in_ipython(sandbox):
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "k8snet.magics")
    assert "k8s" in ip.magics_manager.magics["cell"] and "kubectl" in ip.magics_manager.magics["line"]
    magics._current = k8snet.connect()
    # a cell's value is what kubectl printed, never its exit status (0 used to show as the cell's result "0")
    assert ip.run_line_magic("kubectl", "get namespace default -o name") is None


def test_a_bad_magic_line_says_how_it_is_used(sandbox):
    import pytest

    magics._current = k8snet.connect()
    with pytest.raises(ValueError, match=r"usage: %%k8s apply\|delete"):
        magics.k8s("frobnicate", SERVICE)


def test_a_helper_change_can_show_its_kubectl_command(sandbox, ns, capsys):
    import k8snet

    cluster = k8snet.connect()
    cluster.show_kubectl = True
    cluster.apply(SERVICE, namespace=ns)
    cluster.delete("Service", "web", ns)
    cluster.delete("Deployment", "web", ns, api_version="apps/v1", wait=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"$ kubectl apply --server-side --force-conflicts --field-manager=k8snet -n {ns} -f -   # service/web",
        f"$ kubectl apply --server-side --force-conflicts --field-manager=k8snet -n {ns} -f -   # deployment.apps/web",
        f"$ kubectl delete service web -n {ns} --ignore-not-found --cascade=background --wait=false",
        f"$ kubectl delete deployment.apps web -n {ns} --ignore-not-found --cascade=background --wait=true"]
