"""The example shop under gunicorn and uvicorn on PostgreSQL, under real HTTP load (issue 13).

A trimmed ``make bench-server``: gunicorn with 2 sync workers (or uvicorn
with 2 worker processes: the async stack, whose events are stored from the
response's ``close()`` as under WSGI) and ``DengageMiddleware``, 2
``send_dengage_outbox --loop`` senders and the fake data center (its own
process, ids from its ``/get/key``), loaded by bench/loadgen.py's browsing
visitors for a few seconds at saturation then at about half of it. Only
correctness is asserted, never timing: zero 5xx, every HTML page a visitor
received delivered exactly once as a PAGE_VIEW (by pageUrl and userId), one
userId per visitor, no "database is locked" nor deadlock in the server's
and the senders' logs, an empty outbox once drained. The shop gets a
database of its own (created and dropped here), never the test database.
Skipped unless DATABASE_URL is PostgreSQL.
"""

import importlib.util
import os

import pytest

pytestmark = pytest.mark.slow

DATABASE_URL = os.environ.get("DATABASE_URL", "")
SECONDS = 8.0


@pytest.fixture
def bench_server():
    if not DATABASE_URL.startswith(("postgres://", "postgresql://", "pgsql://")):
        pytest.skip("needs DATABASE_URL on PostgreSQL")
    for module in ("gunicorn", "uvicorn", "aiohttp", "psycopg"):
        if os.environ.get("CI") and importlib.util.find_spec(module) is None:
            pytest.fail(f"{module} is missing: the PostgreSQL tox environments install 'server'")
        pytest.importorskip(module, reason="the 'server' extra")
    from bench import server

    return server


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_real_server_under_load_delivers_every_page_view_once(bench_server, tmp_path, kind):
    from bench import helpers, loadgen

    server = bench_server
    # More sign-ups and sign-ins than the benchmark's mix, so a short run
    # crosses the identity changes (each costs a password hash).
    mix = loadgen.Mix(signup=0.04, signin=0.04)
    databases = server.Databases(DATABASE_URL)
    fake = helpers.fake_dengage()
    try:
        _, url = databases.create("test_shop")
        catalogue = server.prepare(url, users=400)
        # Django's ASGI handler keeps no connection between requests
        # (threads per request): persistent connections pile up under uvicorn.
        env = server.shop_env(url, fake.url, conn_max_age=60 if kind == "gunicorn" else 0)
        shop = server.Shop(kind, env, tmp_path, kind)
        processes = [shop, *server.senders(env, tmp_path, "test")]
        try:
            shop.wait_ready()
            saturation = loadgen.run_closed(
                shop.url,
                catalogue,
                12,
                SECONDS,
                warmup=0.0,
                max_requests=4000,
                seed=1,
                mix=mix,
                users=[f"customer{n}" for n in range(200)],
                tag="sat",
            )
            half = loadgen.run_open(
                shop.url,
                catalogue,
                max(saturation.rate() / 2, 5.0),
                SECONDS,
                warmup=0.0,
                max_requests=2000,
                seed=2,
                mix=mix,
                users=[f"customer{n}" for n in range(200, 400)],
                tag="half",
            )
            shop.stop()
            counts = server.wait_drained(url, timeout=60)
            events = server.fake_events(fake)
        finally:
            for process in processes:
                process.stop()
        logs = {process.name: process.log() for process in processes}
    finally:
        fake.stop()
        databases.drop_all()

    runs = [saturation, half]
    checks = server.check_delivery(runs, runs, events, counts, logs)
    report = "\n".join(f"{'ok  ' if ok else 'FAIL'} {text}" for ok, text in checks)
    print(report)
    assert all(ok for ok, _ in checks), report
    assert sum(v.finished for run in runs for v in run.visitors) >= 10, "too few journeys"
    assert any(e.get("name") == "CHECKOUT" for e in events), "no checkout under load"
