"""``manage.py pay_order <order id>``: play the payment provider.

A signed-in customer's card order waits "awaiting payment" until the
provider calls the shop's webhook; with no provider behind the example
shop, this command makes that call (signed, as ``store/payments.py``
describes) to the running shop::

    .venv/bin/python example_project/manage.py pay_order 3 --url http://127.0.0.1:8000
"""

import urllib.error
import urllib.request

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from example_project.store.payments import provider_call


class Command(BaseCommand):
    help = "Call the running shop's payment webhook: the card payment of an order succeeded."

    def add_arguments(self, parser):
        parser.add_argument("order", type=int, help="the order number")
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="the shop (default: %(default)s)"
        )

    def handle(self, order, url, **options):
        body, headers = provider_call(order)
        request = urllib.request.Request(
            url.rstrip("/") + reverse("store:payment_webhook"),
            data=body,
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise CommandError(f"the shop answered {exc.code}: {exc.read().decode()}")
        except urllib.error.URLError as exc:
            raise CommandError(f"could not reach the shop at {url}: {exc.reason}")
        self.stdout.write(answer)
