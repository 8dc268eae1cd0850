"""Reading one Service's rules out of iptables-save output, and what its probabilities add up to."""

from __future__ import annotations

from k8snet.kubeproxy import service_rules

SAVED = """*nat
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SERVICES -d 10.96.5.5/32 -p tcp -m comment --comment "shop/web cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAAA
-A KUBE-SVC-AAAA ! -s 10.244.0.0/16 -d 10.96.5.5/32 -p tcp -m comment --comment "shop/web cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.1.4:8080" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-ONE --mask 255.255.255.255 --rsource -j KUBE-SEP-ONE
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.1.4:8080" -m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-ONE
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.1.5:8080" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-TWO
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.2.4:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-THREE
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.2.9:8080" -j KUBE-SEP-FOUR
-A KUBE-SEP-FOUR -p tcp -m comment --comment "shop/web" -m tcp -j DNAT --to-destination 10.244.2.9:8080
-A KUBE-SEP-ONE -p tcp -m comment --comment "shop/web" -m tcp -j DNAT --to-destination 10.244.1.4:8080
-A KUBE-SEP-TWO -p tcp -m comment --comment "shop/web" -m tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-THREE -p tcp -m comment --comment "shop/web" -m tcp -j DNAT --to-destination 10.244.2.4:8080
-A KUBE-SERVICES -d 10.96.5.6/32 -p tcp -m comment --comment "shop/web-admin cluster IP" -m tcp --dport 80 -j KUBE-SVC-BBBB
COMMIT
"""


def test_one_services_lines_in_the_order_they_are_walked():
    rules = service_rules(SAVED, "shop", "web")
    chains = [line.split()[1] for line in rules.lines]
    assert chains[0] == "KUBE-SERVICES" and "KUBE-SVC-BBBB" not in str(rules) and "kube-dns" not in str(rules)
    assert [c for c in chains if c.startswith("KUBE-SEP-")] == ["KUBE-SEP-ONE", "KUBE-SEP-TWO", "KUBE-SEP-THREE",
                                                               "KUBE-SEP-FOUR"]


def test_probabilities_of_the_remainder_make_equal_shares():
    shares = service_rules(SAVED, "shop", "web").shares()
    assert list(shares) == ["10.244.1.4:8080", "10.244.1.5:8080", "10.244.2.4:8080", "10.244.2.9:8080"]
    assert all(abs(v - 0.25) < 1e-6 for v in shares.values())
