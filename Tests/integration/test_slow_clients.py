"""Slow clients: bodies trickled a byte at a time must not hold the portal's workers.

The portal runs a fixed pool of worker threads that read a request's body before handling it.
Whether a trickled body reaches a worker byte by byte depends on how Caddy's FastCGI transport
forwards bodies (deploy/Caddyfile buffers them); this test pins the behaviour that keeps other
learners served: with more trickling connections than workers, another learner's page still
answers promptly.
"""
import requests

import reliability

WORKERS = 2
TRICKLERS = WORKERS + 4
# A worker held by a trickler would keep the page waiting until Caddy's read timeout (a 504);
# a page that is merely slow on a busy machine answers in well under this.
PAGE_LIMIT = 2.0


def test_trickling_bodies_on_every_worker_do_not_delay_another_learners_page(fresh_stack_factory, name):
    stack = fresh_stack_factory(workers=WORKERS).start()
    learner = stack.learner(name)
    assert learner.get("/").status_code == 200

    times, still_trickling = reliability.while_trickling(stack, TRICKLERS, lambda: reliability.page_times(learner))

    # The measurement happened while every trickler was still sending.
    assert still_trickling == TRICKLERS
    assert None not in times, times  # every view was a 200
    print(f"page times with {TRICKLERS} trickling bodies and {WORKERS} workers: "
          f"max {max(times) * 1000:.1f} ms")
    assert max(times) < PAGE_LIMIT, times
    assert requests.get(stack.base + "/healthz", timeout=5).status_code == 200
