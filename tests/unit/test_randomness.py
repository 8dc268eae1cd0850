"""Seeded streams: one per purpose, and per object where the purpose is about one object."""

from k8snet.sandbox.randomness import Randomness


def test_a_stream_is_the_same_object_and_repeats_for_the_same_seed():
    a, b = Randomness(7), Randomness(7)
    assert a.stream("scheduler") is a.stream("scheduler")
    assert [a.stream("scheduler").random() for _ in range(5)] == [b.stream("scheduler").random() for _ in range(5)]


def test_a_new_object_starts_its_stream_from_the_beginning_whatever_an_earlier_one_drew():
    r = Randomness(0)
    first = [r.stream("waypoint-weights:ns/a=80,ns/b=20", "uid-1").randrange(100) for _ in range(50)]
    again = [r.stream("waypoint-weights:ns/a=80,ns/b=20", "uid-2").randrange(100) for _ in range(50)]
    assert first == again
    assert r.stream("waypoint-weights:ns/a=80,ns/b=20", "uid-1") is not r.stream("waypoint-weights:ns/a=80,ns/b=20",
                                                                                  "uid-2")


def test_reseed_restarts_every_stream_including_owned_ones():
    r = Randomness(1)
    owned = r.stream("ztunnel:ns/web", "uid-9")
    start = [owned.random() for _ in range(3)]
    r.reseed(1)
    assert [owned.random() for _ in range(3)] == start
    r.reseed(2)
    assert [owned.random() for _ in range(3)] != start
