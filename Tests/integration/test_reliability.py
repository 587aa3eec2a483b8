"""Bounded reliability runs (the long ones: experiments/reliability/run.py)."""
import os

import reliability


def check(figures):
    print(reliability.markdown(figures))
    assert not figures["problems"], figures


def test_soak_loses_nothing_and_serves_no_5xx(fresh_stack_factory):
    seconds = int(os.environ.get("LYNX_SOAK_SECONDS", "60"))
    check(reliability.soak(fresh_stack_factory().start(), learners=20, seconds=seconds))


def test_repeated_sigkill_under_writes_loses_no_acknowledged_write(fresh_stack_factory):
    check(reliability.crash(fresh_stack_factory().start(), kills=20))


def test_full_disk_gives_503_keeps_reads_and_recovers(fresh_stack_factory):
    check(reliability.disk_full(fresh_stack_factory))


def test_lock_contention_waits_then_gives_503(fresh_stack_factory):
    check(reliability.contention(fresh_stack_factory().start()))


def test_garbage_on_the_fastcgi_socket_leaves_the_portal_serving(fresh_stack_factory):
    check(reliability.garbage(fresh_stack_factory().start()))
