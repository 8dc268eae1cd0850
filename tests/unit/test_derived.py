"""``dataplane.derived``: an answer worked out from some resources is kept until one of them changes, and only then.

The data plane keys its lookups (pods by address, Services by ClusterIP, ztunnels by node, Istio policies by
workload) on ``Store.generation``, which moves with every write, delete, failed batch and wipe of a resource."""

from __future__ import annotations

from k8snet.sandbox.dataplane.derived import Derived
from k8snet.sandbox.store import Store


def cm(name: str, value: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "data": {"v": value}}


def test_an_answer_is_kept_until_one_of_its_resources_changes():
    store = Store()
    made: list[str] = []
    table: Derived[list[str]] = Derived(store, "configmaps", "secrets")

    def names() -> list[str]:
        made.append("x")
        return [o["metadata"]["name"] for o in store.list("configmaps")]

    store.put("configmaps", cm("a", "1"))
    assert table.get("k", names) == ["a"] and table.get("k", names) == ["a"] and len(made) == 1
    store.put("services", {"metadata": {"name": "s", "namespace": "default"}})  # not one of its resources
    assert table.get("k", names) == ["a"] and len(made) == 1
    store.put("configmaps", cm("b", "2"))
    assert table.get("k", names) == ["a", "b"] and len(made) == 2
    store.put("secrets", {"metadata": {"name": "t", "namespace": "default"}})  # the other resource it reads
    assert table.get("k", names) == ["a", "b"] and len(made) == 3
    store.remove("configmaps", "default", "a")
    assert table.get("k", names) == ["b"]
    store.wipe()
    assert table.get("k", names) == []
    store.close()


def test_a_table_keeps_at_most_its_limit():
    store = Store()
    table: Derived[int] = Derived(store, "configmaps", limit=3)
    for i in range(10):
        table.get(i, lambda i=i: i)
    assert len(table._answers) <= 3 and table.get(9, lambda: -1) == 9
    store.close()
