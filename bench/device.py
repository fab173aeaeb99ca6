"""User-Agent classification: dengage_django.tracking.device against ua-parser.

    python bench/device.py [--lookups 20000] [--repeat 5]

Runs the User-Agent table of tests/test_device.py, repeated to N lookups,
through:

* ours, uncached: ``device_for()`` + ``is_bot()`` with the per-User-Agent
  caches swapped for the undecorated functions (``__wrapped__``);
* ours, cached: ``device_for()`` + ``is_bot()`` as shipped;
* ua-parser 1.x, uncached: ``Parser(BestAvailableResolver(load_builtins()))``,
  i.e. the default resolver stack without its cache, ``parse(ua)`` and
  ``parse_device(ua)`` (the device domain alone is all bot detection needs);
* ua-parser, cached: the global ``ua_parser.parse`` (its default 2000-entry
  cache, warm).

Prints CPUs, microseconds per lookup (best of --repeat runs), ratios, the
one-time cost of loading ua-parser's regexes, and every User-Agent where
"device family is Spider" disagrees with our ``is_bot()``. ua-parser is not a
dependency of the app: ``pip install ua-parser ua-parser-builtins`` first.
No database is used.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def configure_django():
    from django.conf import settings

    if not settings.configured:
        settings.configure(SECRET_KEY="bench-only", USE_TZ=True, INSTALLED_APPS=[])


def best_microseconds(function, user_agents, repeat):
    """Best-of-``repeat`` microseconds per call of ``function`` over the list."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for user_agent in user_agents:
            function(user_agent)
        best = min(best, time.perf_counter() - started)
    return best / len(user_agents) * 1e6


def ours(device):
    def lookup(user_agent):
        return device.device_for(user_agent), device.is_bot(user_agent)

    return lookup


class Uncached:
    """Swap the module's per-User-Agent caches for the undecorated functions."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        self.saved = self.device._browser_device, self.device._known_bot
        self.device._browser_device = self.saved[0].__wrapped__
        self.device._known_bot = self.saved[1].__wrapped__

    def __exit__(self, *exc_info):
        self.device._browser_device, self.device._known_bot = self.saved


def cpu_summary():
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return f"cpus: {os.cpu_count()} (usable: {usable}), python {sys.version.split()[0]}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    configure_django()
    from dengage_django.tracking import device
    from tests.test_device import USER_AGENTS

    labels = {user_agent: label for label, user_agent, _device, _bot in USER_AGENTS}
    table = list(labels)
    user_agents = (table * (args.lookups // len(table) + 1))[: args.lookups]
    print(cpu_summary())
    print(f"{len(table)} distinct User-Agents, {len(user_agents)} lookups, best of {args.repeat}")

    results = {}
    with Uncached(device):
        results["ours, uncached (device_for + is_bot)"] = best_microseconds(
            ours(device), user_agents, args.repeat
        )
    results["ours, cached (device_for + is_bot)"] = best_microseconds(
        ours(device), user_agents, args.repeat
    )

    try:
        import ua_parser
    except ImportError:
        print("ua-parser is not installed: pip install ua-parser ua-parser-builtins")
        report(results)
        return

    started = time.perf_counter()
    uncached_parser = ua_parser.Parser(ua_parser.BestAvailableResolver(ua_parser.load_builtins()))
    uncached_parser.parse(table[0])  # compiles its regexes
    load_seconds = time.perf_counter() - started
    resolver = type(uncached_parser.resolver)
    results["ua-parser, uncached parse()"] = best_microseconds(
        uncached_parser.parse, user_agents, args.repeat
    )
    results["ua-parser, uncached parse_device()"] = best_microseconds(
        uncached_parser.parse_device, user_agents, args.repeat
    )
    for user_agent in table:  # warm the global parser's cache
        ua_parser.parse(user_agent)
    results["ua-parser, cached global parse()"] = best_microseconds(
        ua_parser.parse, user_agents, args.repeat
    )
    print(
        f"ua-parser {'.'.join(map(str, ua_parser.VERSION))}, resolver "
        f"{resolver.__module__}.{resolver.__qualname__}; loading and compiling its regexes took "
        f"{load_seconds * 1e3:.0f} ms"
    )
    report(results)
    disagreements(labels, device, uncached_parser)


def report(results):
    baseline = results["ours, uncached (device_for + is_bot)"]
    width = max(map(len, results))
    print()
    print(f"{'':{width}}  µs/lookup  x ours uncached")
    for name, micros in results.items():
        print(f"{name:{width}}  {micros:9.2f}  {micros / baseline:8.1f}")


def disagreements(labels, device, parser):
    rows = []
    for user_agent, label in labels.items():
        family = parser.parse_device(user_agent)
        spider = family is not None and family.family == "Spider"
        ours_bot = device.is_bot(user_agent)
        if spider != ours_bot:
            rows.append((ours_bot, spider, label, user_agent))
    print()
    print(f"is_bot vs ua-parser 'Spider': {len(labels) - len(rows)}/{len(labels)} agree")
    for ours_bot, spider, label, user_agent in rows:
        print(f"  ours={ours_bot!s:5} spider={spider!s:5} {label:20} {user_agent[:70]}")


if __name__ == "__main__":
    main()
