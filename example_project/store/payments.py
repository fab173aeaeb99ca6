"""The (pretend) payment provider's webhook calls, and their signature.

When a customer's card payment goes through, the provider calls
``POST /webhooks/payment/`` with a JSON body, ``{"type":
"payment.succeeded", "order": 12}``, signed with the secret the shop shares
with it (``PAYMENT_WEBHOOK_SECRET``): the ``X-Payment-Signature`` header is
``sha256=`` and the hex HMAC-SHA256 of the raw body (as Stripe and GitHub
sign theirs). The signature covers the exact bytes sent, so nothing depends
on how JSON is re-serialised.
"""

import hashlib
import hmac
import json

from django.conf import settings

SIGNATURE_HEADER = "X-Payment-Signature"
PAYMENT_SUCCEEDED = "payment.succeeded"
#: How the provider introduces itself: not a browser, and it sends no cookies.
PROVIDER_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(body, secret=None):
    """The signature header's value for the raw ``body`` (bytes)."""
    secret = settings.PAYMENT_WEBHOOK_SECRET if secret is None else secret
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_signed(body, signature):
    """Whether ``signature`` (the header, possibly missing) signs ``body``;
    compared in constant time."""
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(sign(body).encode(), signature.encode("utf-8", "replace"))


def provider_call(order_id, event_type=PAYMENT_SUCCEEDED):
    """What the provider sends for ``order_id``: ``(body, headers)``. For the
    demo, the ``pay_order`` command and the tests, which play the provider."""
    body = json.dumps({"type": event_type, "order": order_id}).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": PROVIDER_USER_AGENT,
        SIGNATURE_HEADER: sign(body),
    }
    return body, headers
