"""Slow clients: bodies trickled a byte at a time must not hold the portal's workers.

The portal runs a fixed pool of worker threads that read a request's body before handling it.
Whether a trickled body reaches a worker byte by byte depends on how Caddy's FastCGI transport
forwards bodies; this test pins the behaviour that keeps other learners served: with more
trickling connections than workers, another learner's page still answers promptly.
"""
import socket
import statistics
import threading
import time

import requests

WORKERS = 2
TRICKLERS = WORKERS + 4
# Each trickling body announces this many bytes and sends one every TRICKLE_GAP seconds, so it
# stays open for longer than the whole measurement.
BODY_BYTES = 200
TRICKLE_GAP = 0.25
# A worker held by a trickler would keep the page waiting for the trickler's remaining seconds;
# a page that is merely slow on a busy machine answers in well under one.
PAGE_LIMIT = 2.0


def trickle(port, stop, opened):
    """POST /login with a body sent one byte at a time until `stop` is set."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        head = (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {BODY_BYTES}\r\n\r\n")
        conn.sendall(head.encode())
        opened.release()
        sent = 0
        while sent < BODY_BYTES - 1 and not stop.wait(TRICKLE_GAP):
            try:
                conn.sendall(b"a")
            except OSError:
                return
            sent += 1


def test_trickling_bodies_on_every_worker_do_not_delay_another_learners_page(fresh_stack_factory, name):
    stack = fresh_stack_factory(workers=WORKERS).start()
    learner = stack.learner(name)
    assert learner.get("/").status_code == 200

    stop = threading.Event()
    opened = threading.Semaphore(0)
    threads = [threading.Thread(target=trickle, args=(stack.port, stop, opened), daemon=True)
               for _ in range(TRICKLERS)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert opened.acquire(timeout=10), "a trickling connection did not open"
    try:
        time.sleep(1.0)  # every trickler has sent its head and some body bytes by now
        times = []
        for _ in range(10):
            started = time.monotonic()
            response = learner.get("/")
            times.append(time.monotonic() - started)
            assert response.status_code == 200
        still_trickling = sum(thread.is_alive() for thread in threads)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)

    # The measurement happened while every trickler was still sending.
    assert still_trickling == TRICKLERS
    print(f"page times with {TRICKLERS} trickling bodies and {WORKERS} workers: "
          f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
    assert max(times) < PAGE_LIMIT, times
    assert requests.get(stack.base + "/healthz", timeout=5).status_code == 200
