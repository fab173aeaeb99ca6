"""A lean HTTP load generator playing the example shop's browsing visitors.

Used by ``bench/server.py`` (``make bench-server``) and
``tests/test_real_server.py``; not a command of its own.

Why asyncio and aiohttp, not locust: the machine has 2 CPUs shared by the
servers, the senders, PostgreSQL, the fake data center and the load
generator itself, so the generator must cost as little CPU per request as
possible and stay in one process. locust runs a process per CPU for real
load (gevent, one core each) and its per-request bookkeeping costs more;
httpx is pure Python and about twice aiohttp's CPU per request. aiohttp's
C-accelerated client on one event loop drives a few hundred requests a
second from a fraction of one CPU, and asyncio makes both load shapes
simple: a closed loop (N visitors back to back, for saturation) and an
open loop (visitors arriving at a fixed rate, for latency at half load).

Each simulated visitor is a desktop Chrome with its own cookies (kept here,
per visitor: the shared client session has no cookie jar), so every
visitor is a new Dengage visitor on its first page and a returning one
after. Visitors play journeys drawn from a seeded mix: the home page, a
category, one to three product pages, a wishlist share, a basket add (a
POST with the CSRF token of the form the visitor just saw), the checkout
steps up to the order, and a share that signs up or signs in (and out).
Redirects are followed by hand, like a browser, so every exchange is timed
and labelled on its own.

What a visitor saw is kept for the correctness checks: every HTML 200 it
received (with the ``dengage_uid`` cookie it held after it: the userId
its PAGE_VIEW must carry) and the history of its ``dengage_uid`` cookie.
Everything runs on loopback; runs are bounded in time and in requests.
"""

import asyncio
import itertools
import math
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
UID_COOKIE = "dengage_uid"
PASSWORD = "bench-Password-1"
CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
ORDER_PATH = re.compile(r"^/checkout/done/\d+/$")
#: Path -> label of the pages (for the latency table).
LABELS = [
    (re.compile(r"^/$"), "home"),
    (re.compile(r"^/category/"), "category"),
    (re.compile(r"^/product/"), "product"),
    (re.compile(r"^/basket/add/"), "basket add"),
    (re.compile(r"^/basket/$"), "basket"),
    (re.compile(r"^/wishlist/"), "wishlist"),
    (re.compile(r"^/checkout/"), "checkout"),
    (re.compile(r"^/accounts/(signup|login)/"), "sign-up/in"),
    (re.compile(r"^/accounts/logout/"), "sign-out"),
]


def label_of(path):
    for pattern, label in LABELS:
        if pattern.match(path):
            return label
    return "other"


@dataclass(frozen=True)
class Catalogue:
    """What visitors can browse: category slugs, and products as
    ``(slug, sku, sizes, in_stock)``."""

    categories: tuple
    products: tuple

    @property
    def buyable(self):
        return [product for product in self.products if product[3]]


@dataclass(frozen=True)
class Mix:
    """Shares of the journeys (each a probability per visitor)."""

    category: float = 0.8
    basket: float = 0.4
    checkout: float = 0.5  # of the visitors who add to the basket
    wishlist: float = 0.05  # per product page
    signup: float = 0.01
    signin: float = 0.01


@dataclass
class Exchange:
    label: str
    method: str
    status: int  # 0: no answer (connection error or timeout)
    seconds: float
    ended: float  # time.monotonic() when the answer was read
    visitor: int = -1


@dataclass
class Visitor:
    number: int
    #: ``(userId cookie after the answer, absolute URL)`` of every HTML 200.
    views: list = field(default_factory=list)
    #: Every ``dengage_uid`` value this visitor held, in order, and the
    #: label of the exchange that set it.
    uid_history: list = field(default_factory=list)
    cookies: dict = field(default_factory=dict)
    token: str | None = None
    finished: bool = False

    @property
    def uid(self):
        return self.cookies.get(UID_COOKIE)


@dataclass
class LoadResult:
    started: float
    warmup: float
    stopped: float = 0.0
    exchanges: list = field(default_factory=list)
    visitors: list = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    cpu_seconds: float = 0.0

    def measured(self):
        """The exchanges answered after the warm-up."""
        start = self.started + self.warmup
        return [e for e in self.exchanges if e.ended >= start and e.status]

    def window(self):
        return max(self.stopped - (self.started + self.warmup), 1e-9)

    def rate(self):
        """Answered requests per second after the warm-up."""
        return len(self.measured()) / self.window()

    def percentiles(self, label=None, points=(50, 95, 99)):
        values = sorted(e.seconds for e in self.measured() if label in (None, e.label))
        return {p: percentile(values, p) for p in points}, len(values)

    def statuses(self):
        return Counter(e.status for e in self.exchanges)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    rank = max(math.ceil(p / 100 * len(sorted_values)) - 1, 0)
    return sorted_values[rank]


class Shop:
    """One load run against one shop: the client session, the visitors."""

    def __init__(self, base_url, catalogue, *, seed=1, mix=None, users=None, tag="v"):
        self.base_url = base_url.rstrip("/")
        self.catalogue = catalogue
        self.mix = mix or Mix()
        self.random = random.Random(seed)
        #: Usernames of existing customers, each signed in by one visitor only.
        self.users = iter(users or ())
        self.tag = tag
        self.visitor_count = 0
        self.session = None
        self.result = None
        self.max_requests = None

    # -- journeys --------------------------------------------------------------

    def journey(self):
        """The steps of the next visitor: ``(method, path, form or None)``;
        a form's csrfmiddlewaretoken is added when the step runs."""
        rng, mix = self.random, self.mix
        steps = [("GET", "/", None)]
        account = rng.random()
        signed_in = False
        if account < mix.signup:
            name = f"{self.tag}{self.visitor_count}"
            steps += [
                ("GET", "/accounts/signup/", None),
                (
                    "POST",
                    "/accounts/signup/",
                    {
                        "username": name,
                        "email": f"{name}@example.com",
                        "password1": PASSWORD,
                        "password2": PASSWORD,
                    },
                ),
            ]
            signed_in = True
        elif account < mix.signup + mix.signin:
            username = next(self.users, None)
            if username is not None:
                steps += [
                    ("GET", "/accounts/login/", None),
                    ("POST", "/accounts/login/", {"username": username, "password": PASSWORD}),
                ]
                signed_in = True
        if rng.random() < mix.category:
            steps.append(("GET", f"/category/{rng.choice(self.catalogue.categories)}/", None))
        products = rng.sample(self.catalogue.products, rng.randint(1, 3))
        for slug, sku, _sizes, _in_stock in products:
            steps.append(("GET", f"/product/{slug}/", None))
            if rng.random() < mix.wishlist:
                steps.append(("POST", "/wishlist/add/", {"product_id": sku}))
        buyable = self.catalogue.buyable
        if buyable and rng.random() < mix.basket:
            slug, sku, sizes, _ = rng.choice(buyable)
            form = {"product_id": sku, "quantity": str(rng.randint(1, 2))}
            if sizes:
                form["size"] = rng.choice(sizes)
            steps += [("GET", f"/product/{slug}/", None), ("POST", "/basket/add/", form)]
            if rng.random() < mix.checkout:
                number = self.visitor_count
                steps += [
                    ("GET", "/checkout/customer/", None),
                    (
                        "POST",
                        "/checkout/customer/",
                        {
                            "full_name": f"Visitor {number}",
                            "email": f"visitor{number}@example.com",
                            "address": f"{number} Bench Street",
                        },
                    ),
                    (
                        "POST",
                        "/checkout/payment/",
                        # A signed-in customer's card waits for the payment
                        # provider's webhook: PayPal is paid at once.
                        {"payment_type": "paypal"}
                        if signed_in
                        else {"payment_type": "credit_card", "card_number": "4242424242424242"},
                    ),
                ]
        if signed_in:
            steps.append(("POST", "/accounts/logout/", {}))
        return steps

    def mean_requests_per_visitor(self, samples=2000):
        """About how many HTTP exchanges a journey makes (a POST redirects)."""
        probe = Shop(self.base_url, self.catalogue, seed=12345, mix=self.mix)
        probe.users = itertools.repeat("x")
        total = 0
        for _ in range(samples):
            steps = probe.journey()
            total += sum(2 if method == "POST" else 1 for method, _, _ in steps)
        return total / samples

    # -- HTTP ------------------------------------------------------------------

    def _budget_left(self):
        return self.max_requests is None or len(self.result.exchanges) < self.max_requests

    async def _exchange(self, visitor, method, path, form, referer):
        headers = {
            "User-Agent": DESKTOP_CHROME,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en-GB,en;q=0.9",
        }
        if visitor.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in visitor.cookies.items())
        if referer:
            headers["Referer"] = referer
        url = self.base_url + path
        started = time.monotonic()
        try:
            async with self.session.request(
                method, url, data=form, headers=headers, allow_redirects=False
            ) as answer:
                body = await answer.read()
                status = answer.status
                set_cookies = answer.headers.getall("Set-Cookie", [])
                content_type = answer.headers.get("Content-Type", "")
                location = answer.headers.get("Location")
        except (OSError, asyncio.TimeoutError) as exc:
            ended = time.monotonic()
            self.result.exchanges.append(
                Exchange(label_of(path), method, 0, ended - started, ended, visitor.number)
            )
            self.result.errors[type(exc).__name__] += 1
            return None
        ended = time.monotonic()
        self.result.exchanges.append(
            Exchange(label_of(path), method, status, ended - started, ended, visitor.number)
        )
        before = visitor.uid
        for header in set_cookies:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0":
                    visitor.cookies.pop(name, None)
                else:
                    visitor.cookies[name] = morsel.value
        if visitor.uid != before and visitor.uid is not None:
            visitor.uid_history.append((visitor.uid, f"{method} {path}"))
        if status == 200 and content_type.startswith("text/html"):
            if method == "GET":
                visitor.views.append((visitor.uid, url))
            token = CSRF_FIELD.search(body)
            if token:
                visitor.token = token.group(1).decode()
        return status, location, url

    async def _step(self, visitor, method, path, form, referer):
        """One step, following redirects like a browser; returns the last URL."""
        if form is not None:
            form = dict(form)
            form["csrfmiddlewaretoken"] = visitor.token or visitor.cookies.get("csrftoken", "")
        for _ in range(5):
            if not self._budget_left():
                return None
            answer = await self._exchange(visitor, method, path, form, referer)
            if answer is None:
                return None
            status, location, url = answer
            if status not in (301, 302, 303, 307, 308) or not location:
                return url
            referer = url
            if location.startswith(self.base_url):
                location = location[len(self.base_url) :]
            method, path, form = "GET", location, None
        return None

    def new_visitor(self):
        visitor = Visitor(self.visitor_count)
        self.visitor_count += 1
        self.result.visitors.append(visitor)
        return visitor

    async def play(self, visitor, steps, deadline, think=0.0):
        referer = None
        for method, path, form in steps:
            if time.monotonic() >= deadline or not self._budget_left():
                return
            referer = await self._step(visitor, method, path, form, referer)
            if referer is None:
                return
            if think:
                await asyncio.sleep(self.random.uniform(0, think))
        visitor.finished = True

    # -- load shapes -----------------------------------------------------------

    async def _run(self, body, seconds, warmup, max_requests, connections):
        import aiohttp

        self.max_requests = max_requests
        started = time.monotonic()
        cpu = time.process_time()
        self.result = LoadResult(started=started, warmup=warmup)
        connector = aiohttp.TCPConnector(limit=connections, force_close=False)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        ) as self.session:
            await body(started + warmup + seconds)
        self.result.stopped = min(time.monotonic(), started + warmup + seconds)
        self.result.cpu_seconds = time.process_time() - cpu
        return self.result

    async def closed(self, concurrency, seconds, warmup=3.0, max_requests=None):
        """``concurrency`` visitors back to back, no think time: saturation."""

        async def worker(deadline):
            while time.monotonic() < deadline and self._budget_left():
                visitor = self.new_visitor()
                await self.play(visitor, self.journey(), deadline)

        async def body(deadline):
            await asyncio.gather(*(worker(deadline) for _ in range(concurrency)))

        return await self._run(body, seconds, warmup, max_requests, concurrency)

    async def open(self, rate, seconds, warmup=3.0, max_requests=None, think=0.2):
        """Visitors arriving at random (Poisson) so that about ``rate``
        requests a second reach the shop, each thinking up to ``think``
        seconds between pages: latency below saturation."""
        arrivals = rate / self.mean_requests_per_visitor()
        clock = random.Random(self.random.random())

        async def body(deadline):
            tasks = set()
            next_arrival = time.monotonic()
            while next_arrival < deadline and self._budget_left():
                delay = next_arrival - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                visitor = self.new_visitor()
                task = asyncio.ensure_future(self.play(visitor, self.journey(), deadline, think))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_arrival += clock.expovariate(arrivals)
            if tasks:
                await asyncio.gather(*tasks)

        return await self._run(body, seconds, warmup, max_requests, 512)


def run_closed(base_url, catalogue, concurrency, seconds, **options):
    shop_options, run_options = _split(options)
    shop = Shop(base_url, catalogue, **shop_options)
    return asyncio.run(shop.closed(concurrency, seconds, **run_options))


def run_open(base_url, catalogue, rate, seconds, **options):
    shop_options, run_options = _split(options)
    shop = Shop(base_url, catalogue, **shop_options)
    return asyncio.run(shop.open(rate, seconds, **run_options))


def _split(options):
    shop_keys = ("seed", "mix", "users", "tag")
    shop = {k: v for k, v in options.items() if k in shop_keys}
    run = {k: v for k, v in options.items() if k not in shop_keys}
    return shop, run
