"""Real servers: the example shop under gunicorn and uvicorn, with and without the middleware.

    python bench/server.py [--servers gunicorn,uvicorn] [--seconds 30] [--quick]
                           [--senders during|after]

For each server, on PostgreSQL (``--database`` names the server; the
default is postgres://postgres@127.0.0.1:5432/postgres, and databases of
its own are created and dropped there):

* two copies of a freshly migrated and seeded example shop database, one
  served with ``DengageMiddleware`` and one without it
  (``bench/no_tracking.py`` in its place, so the views that call
  ``request.dengage`` helpers still answer): gunicorn with 2 sync workers
  (``example_project.shop.wsgi``) or uvicorn with 2 worker processes
  (``example_project.shop.asgi``), DEBUG off, persistent connections
  under gunicorn (none under uvicorn: see ``CONN_MAX_AGE``);
* the fake Dengage data center in its own process: the shop's visitor ids
  come from its ``/get/key`` (``DENGAGE_ID_SOURCE=dengage``) and 2
  ``send_dengage_outbox --loop`` processes drain the "with" shop's outbox
  to it while the load runs (``--senders after``: only once the load is
  over, which tells the middleware's own cost from the senders');
* the load (bench/loadgen.py, one asyncio process): first each shop at
  saturation (``--concurrency`` visitors back to back), then each at half
  of the lower of the two saturation rates (visitors arriving at random,
  the same seeded visitors for both sides), in the order without, with,
  with, without;
* then the outbox is drained and what the data center received is checked:
  zero 5xx, every HTML page a visitor received is one PAGE_VIEW under the
  userId the visitor held (counted by pageUrl and userId), one userId per
  visitor (changing only at sign-in and sign-out, never shared), every
  basket add answered delivered as one BASKET_OPERATIONS add, no "database
  is locked", deadlock, traceback, error or lost event in any server or
  sender log, the outbox empty.

Prints, per server: requests/s at saturation, p50/p95/p99 at half load on
the product page and over all pages, with and without the middleware side
by side and their ratios, the CPUs each part used at saturation (the
shop, the senders, PostgreSQL, the fake data center, the load generator:
a profile by process), against the issue's targets (reported, not
asserted). Every visitor is a desktop Chrome on 127.0.0.1: loopback
addresses are never counted by the flood guard, and
``DENGAGE_NEW_VISITORS_PER_MINUTE`` is set to a million besides, so
nothing is treated as a flood. ``--quick`` is a short run (about 2
minutes); the defaults take about 8.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import helpers, loadgen  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/postgres"
SERVERS = ("gunicorn", "uvicorn")
SENDERS = 2
WORKERS = 2
#: Log lines that fail the run wherever they appear.
FATAL_LOG = re.compile(r"database is locked|deadlock", re.IGNORECASE)
#: Log lines worth counting (a lost event, an unhandled error).
NOTABLE_LOG = re.compile(
    r"Traceback|Dengage tracking failed|lost after the response|could not store Dengage"
    r"|\bERROR\b|\[CRITICAL\]"
)
OUTBOX = "dengage_django_outboxevent"


# -- databases -----------------------------------------------------------------


def with_database(url, name):
    """``url`` naming database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def is_postgres(url):
    return bool(url) and urlsplit(url).scheme in ("postgres", "postgresql", "pgsql")


def connect(url, autocommit=True):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname=parts.path.lstrip("/") or "postgres",
        autocommit=autocommit,
        connect_timeout=5,
    )


class Databases:
    """Databases of this run on one PostgreSQL server; all dropped by :meth:`drop_all`."""

    def __init__(self, server_url):
        self.admin_url = with_database(server_url, "postgres")
        self.prefix = f"bench_server_{uuid.uuid4().hex[:8]}"
        self.created = []

    def create(self, suffix, template=None):
        name = f"{self.prefix}_{suffix}"
        with connect(self.admin_url) as connection:
            sql = f'CREATE DATABASE "{name}"'
            if template:
                sql += f' TEMPLATE "{template}"'
            connection.execute(sql)
        self.created.append(name)
        return name, with_database(self.admin_url, name)

    def drop(self, name):
        with connect(self.admin_url) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self):
        for name in list(reversed(self.created)):
            self.drop(name)

    def version(self):
        with connect(self.admin_url) as connection:
            return connection.execute("SHOW server_version").fetchone()[0].split()[0]


#: CONN_MAX_AGE per server. Persistent connections under gunicorn; none under
#: uvicorn: Django's ASGI handler runs each request's sync code in a thread
#: of its own, and with CONN_MAX_AGE > 0 each of those threads keeps its
#: connection open (Django ticket #33497): within seconds the shop holds
#: every PostgreSQL connection (100) and answers 500, with or without the
#: middleware.
CONN_MAX_AGE = {"gunicorn": 60, "uvicorn": 0}


def shop_env(database_url, fake_url=None, middleware=True, conn_max_age=60):
    """The example shop's environment: its database, DEBUG off, the fake data center."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DENGAGE_") and key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.shop.settings",
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        CONN_MAX_AGE=str(conn_max_age),
        DENGAGE_MIDDLEWARE=(
            "dengage_django.middleware.DengageMiddleware"
            if middleware
            else "bench.no_tracking.NoTrackingMiddleware"
        ),
        DENGAGE_API_KEY=helpers.API_KEY,
        DENGAGE_ORIGIN=helpers.ORIGIN,
        DENGAGE_DATA_CENTER_URL=fake_url or "http://127.0.0.1:9",
        DENGAGE_ID_SOURCE="dengage",
        DENGAGE_NEW_VISITORS_PER_MINUTE="1000000",
        DENGAGE_STRICT="false",
        # Tracking alone: no live call for recommendations on product pages.
        SHOP_RECOMMENDATIONS="false",
    )
    return env


def prepare(database_url, users):
    """Migrate and seed the shop's database (in a child process); returns
    the catalogue. Stock is made plentiful so no basket add fails for lack
    of it, and ``users`` customers exist to sign in (one password hash,
    computed once, for all)."""
    result = subprocess.run(
        [sys.executable, __file__, "--prepare", database_url, "--users", str(users)],
        env=shop_env(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"preparing the database failed:\n{result.stderr[-3000:]}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return loadgen.Catalogue(
        categories=tuple(data["categories"]),
        products=tuple((p[0], p[1], tuple(p[2]), p[3]) for p in data["products"]),
    )


def _prepare_child(users):
    """In the child: migrate, seed_shop, stock, customers; prints the catalogue."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection

    from example_project.store.models import Category, Product

    call_command("migrate", verbosity=0)
    call_command("seed_shop", verbosity=0)
    Product.objects.filter(stock__gt=0).update(stock=10**9)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " SELECT %s, false, 'customer' || g, '', '', 'customer' || g || '@example.com',"
            " false, true, now() FROM generate_series(0, %s) AS g",
            [make_password(loadgen.PASSWORD), users - 1],
        )
    products = [(p.slug, p.sku, p.size_list, p.in_stock) for p in Product.objects.order_by("sku")]
    categories = list(Category.objects.order_by("slug").values_list("slug", flat=True))
    print(json.dumps({"categories": categories, "products": products}))


def outbox_counts(database_url):
    with connect(database_url) as connection:
        rows = connection.execute(f"SELECT status, count(*) FROM {OUTBOX} GROUP BY status")
        return Counter(dict(rows.fetchall()))


def wait_drained(database_url, timeout=120.0):
    """Wait until no event is pending or in flight and no new row appeared
    for a second (the middleware may write after the response); returns
    the outbox's counts by status."""
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        counts = outbox_counts(database_url)
        total = sum(counts.values())
        if counts["pending"] + counts["in_flight"] == 0 and total == previous:
            return counts
        if time.monotonic() > deadline:
            return counts
        previous = total
        time.sleep(1.0)


# -- processes -----------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process in a session of its own, its output in a log file."""

    def __init__(self, name, argv, env, log_dir):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "w")  # closed in stop()
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self):
        return self.process.poll() is None

    def stop(self, timeout=20):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Worker processes of this session that outlived their parent.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()

    def log(self):
        return self.log_path.read_text(errors="replace")


class Shop(Process):
    """The example shop under ``kind`` (gunicorn or uvicorn), 2 processes."""

    def __init__(self, kind, env, log_dir, name):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if kind == "gunicorn":
            argv = [
                *("-m", "gunicorn", "example_project.shop.wsgi:application"),
                *("-w", str(WORKERS), "-b", f"127.0.0.1:{self.port}"),
                *("--log-level", "warning"),
            ]
        elif kind == "uvicorn":
            argv = [
                *("-m", "uvicorn", "example_project.shop.asgi:application"),
                *("--workers", str(WORKERS), "--host", "127.0.0.1", "--port", str(self.port)),
                *("--no-access-log", "--log-level", "warning"),
            ]
        else:
            raise ValueError(f"unknown server {kind!r}")
        super().__init__(name, [sys.executable, *argv], env, log_dir)

    def wait_ready(self, timeout=60):
        """Until it answers (a client that is no browser: never tracked)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer:\n{self.log()[-3000:]}")
            time.sleep(0.2)


# -- where the CPU goes ----------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _processes():
    """``(pid, name, session, CPU seconds)`` of every process readable in
    /proc; the CPU seconds include the reaped children's (a PostgreSQL
    backend that exited is counted in its postmaster's)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        # fields[0] is the state (field 3 of stat(5)): session is field 6,
        # utime, stime, cutime, cstime fields 14 to 17.
        session = int(fields[3])
        ticks = sum(int(value) for value in fields[11:15])
        yield int(entry), name, session, ticks / TICKS


def cpu_by_role(roles):
    """CPU seconds used so far by each role: ``roles`` maps a name to the
    session ids (a :class:`Process` leads its own) or pids of its
    processes; ``"postgresql"`` is every process named postgres, and
    ``"load generator"`` this process."""
    totals = dict.fromkeys([*roles, "postgresql"], 0.0)
    for pid, name, session, seconds in _processes():
        if name == "postgres":
            totals["postgresql"] += seconds
            continue
        for role, ids in roles.items():
            if session in ids or pid in ids:
                totals[role] += seconds
                break
    own = os.times()
    totals["load generator"] = own.user + own.system
    return totals


def senders(env, log_dir, prefix):
    argv = [
        sys.executable,
        *("-m", "django", "send_dengage_outbox", "--loop", "--interval", "0.5", "--no-progress"),
    ]
    return [Process(f"{prefix}-sender-{n}", argv, env, log_dir) for n in range(1, SENDERS + 1)]


def fake_events(fake):
    return fake.get_json("/_fake/events")


def reset_fake(fake):
    request = urllib.request.Request(fake.url + "/_fake/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


# -- checks --------------------------------------------------------------------

IDENTITY_CHANGES = ("POST /accounts/login/", "POST /accounts/logout/")


def check_delivery(with_results, all_results, events, counts, logs):
    """``[(passed, description)]``: the correctness bullets of issue 13.

    ``with_results``: the load runs against the shop with the middleware,
    whose events ``events`` (what the data center received) must match;
    ``all_results``: every run (zero 5xx anywhere); ``counts``: the drained
    outbox by status; ``logs``: ``{name: text}`` of every server and sender.
    """
    checks = []
    exchanges = [e for result in all_results for e in result.exchanges]
    statuses = Counter(e.status for e in exchanges)
    errors = Counter()
    for result in all_results:
        errors.update(result.errors)
    fives = sum(n for status, n in statuses.items() if status >= 500)
    checks.append(
        (
            fives == 0 and not errors,
            f"{len(exchanges)} requests: no 5xx ({fives}), no connection error "
            f"({dict(errors) or 0}); statuses {dict(sorted(statuses.items()))}",
        )
    )

    visitors = [v for result in with_results for v in result.visitors]
    expected = Counter(view for v in visitors for view in v.views if view[0])
    anonymous = sum(1 for v in visitors for view in v.views if not view[0])
    views = [e for e in events if e.get("name") == "PAGE_VIEW"]
    received = Counter((e.get("userId"), e.get("pageUrl")) for e in views)
    missing = expected - received
    extra = received - expected
    checks.append(
        (
            not missing and not extra and not anonymous and expected,
            f"{sum(expected.values())} HTML pages received by {len(visitors)} browser visitors: "
            f"{len(views)} PAGE_VIEWs delivered, each page exactly once by pageUrl and userId "
            f"(missing {sum(missing.values())}, extra or duplicated {sum(extra.values())}, "
            f"pages without a userId cookie {anonymous})"
            + (f"; e.g. missing {next(iter(missing))}" if missing else "")
            + (f"; e.g. extra {next(iter(extra))}" if extra else ""),
        )
    )

    owners = defaultdict(set)
    wrong_changes = 0
    changed = 0
    for v in visitors:
        for position, (uid, cause) in enumerate(v.uid_history):
            owners[uid].add(v.number)
            if position and cause not in IDENTITY_CHANGES:
                wrong_changes += 1
        changed += len(v.uid_history) > 1
    shared = [uid for uid, numbers in owners.items() if len(numbers) > 1]
    unknown = Counter(e.get("name") for e in events if e.get("userId") not in owners)
    checks.append(
        (
            not shared and not wrong_changes and not unknown,
            f"one userId per visitor: {len(owners)} userIds, none shared between visitors "
            f"({len(shared)}), changed only at sign-in/sign-out ({changed} visitors; other "
            f"changes: {wrong_changes}); events under no visitor's userId: "
            f"{sum(unknown.values())}{' ' + str(dict(unknown)) if unknown else ''}",
        )
    )

    fatal = {name: FATAL_LOG.findall(text) for name, text in logs.items()}
    fatal = {name: len(found) for name, found in fatal.items() if found}
    notable = {name: len(NOTABLE_LOG.findall(text)) for name, text in logs.items()}
    notable = {name: n for name, n in notable.items() if n}
    checks.append(
        (
            not fatal and not notable,
            f'no "database is locked" nor deadlock in {len(logs)} server and sender logs '
            f"({fatal or 'none'}), no traceback, error or lost event ({notable or 'none'})",
        )
    )

    # Not only page views: every basket add the shop answered (a redirect to
    # the basket) is one BASKET_OPERATIONS add.
    adds = sum(
        1
        for result in with_results
        for e in result.exchanges
        if e.label == "basket add" and e.method == "POST" and e.status == 302
    )
    added = sum(
        1 for e in events if e.get("name") == "BASKET_OPERATIONS" and e.get("step") == "add"
    )
    checks.append(
        (
            adds == added and adds > 0,
            f"{adds} basket adds answered, {added} BASKET_OPERATIONS add events delivered",
        )
    )

    open_rows = counts["pending"] + counts["in_flight"] + counts["dead"] + counts["invalid"]
    checks.append(
        (
            open_rows == 0 and counts["sent"] == len(events),
            f"outbox empty after the senders drained: {dict(counts)}; "
            f"{counts['sent']} rows sent, {len(events)} events received",
        )
    )
    return checks


# -- one server ----------------------------------------------------------------


class Run:
    """One server's measurements and checks."""

    def __init__(self, kind):
        self.kind = kind
        self.saturation = {}
        self.half = {}
        self.half_rate = None
        self.checks = []
        #: side -> role -> CPU seconds per second at saturation
        self.cpu = {}


def one_server(kind, args, databases, template, catalogue, fake, log_dir, out=print):
    run = Run(kind)
    sides = ("without", "with")
    urls = {}
    for side in sides:
        _, urls[side] = databases.create(f"{kind}_{side}", template=template)
    reset_fake(fake)
    shops = {
        side: Shop(
            kind,
            shop_env(urls[side], fake.url, side == "with", CONN_MAX_AGE[kind]),
            log_dir,
            f"{kind}-{side}",
        )
        for side in sides
    }
    sender_env = shop_env(urls["with"], fake.url)
    workers = senders(sender_env, log_dir, kind) if args.senders == "during" else []
    processes = [*shops.values(), *workers]
    users = iter(range(10**9))

    def roles():
        return {
            "shop": {shop.process.pid for shop in shops.values()},
            "senders": {worker.process.pid for worker in workers},
            "data center": {fake.process.pid},
        }

    def load(side, shape, phase, **options):
        names = [f"customer{next(users)}" for _ in range(args.users_per_phase)]
        common = dict(seed=args.seed, users=names, tag=f"{kind[0]}{phase}n", warmup=args.warmup)
        if args.max_requests:
            common["max_requests"] = args.max_requests
        if shape == "closed":
            before, started = cpu_by_role(roles()), time.monotonic()
            result = loadgen.run_closed(
                shops[side].url, catalogue, args.concurrency, args.seconds, **common, **options
            )
            elapsed = time.monotonic() - started
            after = cpu_by_role(roles())
            run.cpu[side] = {role: (after[role] - before[role]) / elapsed for role in after}
        else:
            result = loadgen.run_open(
                shops[side].url, catalogue, run.half_rate, args.seconds, **common, **options
            )
        if workers:
            wait_drained(urls["with"])
        return result

    try:
        for shop in shops.values():
            shop.wait_ready()
        out(f"{kind}: saturation, {args.concurrency} visitors back to back ...", flush=True)
        run.saturation["without"] = load("without", "closed", 1)
        run.saturation["with"] = load("with", "closed", 2)
        run.half_rate = 0.5 * min(r.rate() for r in run.saturation.values())
        out(f"{kind}: half load, {run.half_rate:.0f} requests/s ...", flush=True)
        run.half["with"] = load("with", "open", 3)
        run.half["without"] = load("without", "open", 4)
        for shop in shops.values():
            shop.stop()
        if not workers:  # --senders after: the outbox is drained only now
            workers = senders(sender_env, log_dir, kind)
            processes.extend(workers)
        counts = wait_drained(urls["with"], timeout=args.drain_timeout)
        events = fake_events(fake)
    finally:
        for process in processes:
            process.stop()
    logs = {process.name: process.log() for process in processes}
    with_results = [run.saturation["with"], run.half["with"]]
    all_results = [*run.saturation.values(), *run.half.values()]
    run.checks = check_delivery(with_results, all_results, events, counts, logs)
    for side in sides:
        databases.drop(f"{databases.prefix}_{kind}_{side}")
    return run


# -- report --------------------------------------------------------------------


def ms(seconds):
    return f"{seconds * 1000:6.1f}"


def report(runs, args, out=print):
    out("")
    out(
        f"{'server':<9} {'side':<8} {'saturation':>11} {'load cpu':>8}   "
        f"{'product page at half load (ms)':<31} {'all pages at half load (ms)':<28}"
    )
    out(
        f"{'':<9} {'':<8} {'req/s':>11} {'':>8}   {'p50':>6} {'p95':>6} {'p99':>6}  {'n':>6}   "
        f"{'p50':>6} {'p95':>6} {'p99':>6}"
    )
    for run in runs:
        figures = {}
        for side in ("without", "with"):
            sat = run.saturation[side]
            half = run.half[side]
            product, n_product = half.percentiles("product")
            every, _ = half.percentiles()
            figures[side] = (sat.rate(), product, every)
            cpu = sat.cpu_seconds / max(sat.stopped - sat.started, 1e-9)
            out(
                f"{run.kind:<9} {side:<8} {sat.rate():11,.0f} {cpu:7.0%}    "
                f"{ms(product[50])} {ms(product[95])} {ms(product[99])}  {n_product:6d}   "
                f"{ms(every[50])} {ms(every[95])} {ms(every[99])}"
            )
        (rate_o, product_o, every_o), (rate_w, product_w, every_w) = (
            figures["without"],
            figures["with"],
        )
        out(
            f"{run.kind:<9} {'ratio':<8} {rate_w / rate_o:10.2f}x {'':>8}   "
            f"{product_w[50] / product_o[50]:6.2f} {product_w[95] / product_o[95]:6.2f} "
            f"{product_w[99] / product_o[99]:6.2f}  {'':>6}   "
            f"{every_w[50] / every_o[50]:6.2f} {every_w[95] / every_o[95]:6.2f} "
            f"{every_w[99] / every_o[99]:6.2f}"
        )
        out(
            f"{'':<9} half load: {run.half_rate:.0f} req/s offered, "
            f"{run.half['without'].rate():.0f} / {run.half['with'].rate():.0f} answered "
            f"(without / with)"
        )
    out("")
    out(f"CPU at saturation, in CPUs busy (warm-up included; the machine has {os.cpu_count()}):")
    for run in runs:
        for side in ("without", "with"):
            shares = "  ".join(f"{role} {busy:.2f}" for role, busy in run.cpu[side].items())
            out(f"  {run.kind:<9} {side:<8} {shares}  total {sum(run.cpu[side].values()):.2f}")
    out("")
    out(
        "Targets (reported, not asserted): product page at half load with/without "
        "p50 <= 1.03, p99 <= 1.05; saturation with/without >= 0.90x."
    )
    for run in runs:
        sat = run.saturation["with"].rate() / run.saturation["without"].rate()
        product = {side: run.half[side].percentiles("product")[0] for side in run.half}
        p50 = product["with"][50] / product["without"][50]
        p99 = product["with"][99] / product["without"][99]
        verdict = ", ".join(
            f"{name} {value:.2f} {'met' if ok else 'MISSED'}"
            for name, value, ok in (
                ("p50", p50, p50 <= 1.03),
                ("p99", p99, p99 <= 1.05),
                ("saturation", sat, sat >= 0.90),
            )
        )
        out(f"  {run.kind}: {verdict}")
    out("")
    out("Correctness (asserted):")
    failed = 0
    for run in runs:
        for passed, text in run.checks:
            failed += not passed
            out(f"  {'ok  ' if passed else 'FAIL'} {run.kind}: {text}")
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default=",".join(SERVERS), help="gunicorn,uvicorn")
    parser.add_argument("--seconds", type=float, default=40.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=4.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=16, help="visitors at saturation")
    parser.add_argument("--max-requests", type=int, default=20000, help="per phase (default 20000)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--users-per-phase", type=int, default=2000)
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument(
        "--database",
        default=os.environ["DATABASE_URL"]
        if is_postgres(os.environ.get("DATABASE_URL"))
        else DEFAULT_DATABASE,
        help="a PostgreSQL URL: its server gets this run's databases",
    )
    parser.add_argument("--quick", action="store_true", help="12 s phases (about 2 minutes)")
    parser.add_argument(
        "--senders",
        choices=("during", "after"),
        default="during",
        help="run the 2 senders during the load (default) or only after it, "
        "to tell the middleware's cost from the senders'",
    )
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--users", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        _prepare_child(args.users)
        return 0
    if args.quick:
        args.seconds, args.warmup = 12.0, 3.0
    kinds = [kind for kind in args.servers.split(",") if kind]
    try:
        connect(args.database).close()
    except Exception as exc:
        print(
            f"bench-server needs a PostgreSQL server (13 or later) it can create databases "
            f"on: {args.database} does not answer ({type(exc).__name__}). Start one, or name "
            f"yours with --database or DATABASE_URL.",
            file=sys.stderr,
        )
        return 2
    databases = Databases(args.database)
    started = time.monotonic()
    print(helpers.cpu_line(f"postgresql {databases.version()}"))
    load = os.getloadavg()
    print(
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}  "
        f"(this machine is shared: figures move with its load)"
    )
    print(
        f"servers: {', '.join(f'{k} (CONN_MAX_AGE={CONN_MAX_AGE[k]})' for k in kinds)}, "
        f"{WORKERS} processes each; {SENDERS} senders "
        f"(send_dengage_outbox --loop) {args.senders} the load; PostgreSQL, the fake data "
        f"center and the load generator (one asyncio process, aiohttp) run on the same "
        f"{os.cpu_count()} CPUs: "
        f"'load cpu' is the generator's own share of one CPU at saturation."
    )
    print(
        f"phases: {args.warmup:.0f} s warm-up + {args.seconds:.0f} s measured; saturation with "
        f"{args.concurrency} visitors back to back; half load: random arrivals at half the "
        f"lower saturation rate, up to 0.2 s between pages"
    )
    log_dir = tempfile.mkdtemp(prefix="dengage-bench-server-")
    fake = helpers.fake_dengage()
    runs = []
    try:
        template, template_url = databases.create("template")
        catalogue = prepare(template_url, args.users_per_phase * 4)
        for kind in kinds:
            runs.append(one_server(kind, args, databases, template, catalogue, fake, log_dir))
    finally:
        fake.stop()
        databases.drop_all()
    failed = report(runs, args)
    print(f"\nlogs: {log_dir}  total time: {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
