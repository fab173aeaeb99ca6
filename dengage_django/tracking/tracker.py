"""``request.dengage``: the request-bound recorder.

:class:`Tracker` fills the common parameters from the request (userId,
sessionId, device, pageUrl, referrer, lang, and the settings' currency,
region and testMode) and offers one method per event. Every method returns
the stored :class:`~dengage_django.models.OutboxEvent` (``None`` when the
request is not tracked, a duplicate was skipped, or storing failed in
lenient mode). In lenient mode nothing here raises into a view; in strict
mode a bad event raises :class:`~dengage_django.exceptions.DengageValidationError`.

The middleware's tracker is *deferred*: an event recorded outside any
transaction is validated at once (strict mode raises in the view) but
stored when the response is done, together with the PAGE_VIEW, in one
INSERT. An event recorded inside ``transaction.atomic()`` is stored at once,
in that transaction, so it commits or rolls back with the caller's work.
Under ``ATOMIC_REQUESTS`` the view's own request transaction is the
exception: events recorded directly in it are kept until it commits, then
stored with the response after the PAGE_VIEW (dropped if it rolls back), so
the page view still reaches Dengage first.

Each helper has an ``a``-prefixed coroutine form for async views
(``await request.dengage.abasket_add(...)``). In the async stack the
middleware does the request's blocking reads (policy, session, user) before
the view runs, so the sync helpers work there too; one that would still
need the database on the event loop fails with a message naming its async
form (raised in strict mode, logged otherwise) instead of a 500.

An empty basket is not an error: checkout steps without products record
nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.db import connections, transaction
from django.utils import translation

from .. import outbox
from ..conf import dengage_settings
from ..decisions import live
from ..decisions.attribution import CLICK, attribution_from_query
from ..decisions.widgets import Decisions
from ..events import adapters
from ..events.validation import check_fields
from ..exceptions import DengageError, DengageValidationError
from ..recording.store import (
    default_fields,
    merge_fields,
    prepare,
    reject,
    request_fields,
    store,
    store_batch,
)
from .categories import category_for
from .device import device_for
from .identity import Identity
from .policy import untracked_reason

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ..models import OutboxEvent

logger = logging.getLogger(__name__)

#: What a price or a quantity may be given as (a numeric string too).
Number = int | float | Decimal | str

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


def _not_on_the_event_loop(
    method: Callable[Concatenate[_T, _P], _R],
) -> Callable[Concatenate[_T, _P], _R | None]:
    """A helper that needs the database on an event loop says what to call
    instead (raised in strict mode, logged otherwise), never a bare
    ``SynchronousOnlyOperation``."""

    @functools.wraps(method)
    def helper(self: _T, *args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        try:
            return method(self, *args, **kwargs)
        except SynchronousOnlyOperation as exc:
            message = (
                f"request.dengage.{method.__name__}() needs the database and was called "
                f"from async code: use `await request.dengage.a{method.__name__}(...)`"
            )
            if dengage_settings.STRICT:
                raise DengageError(message) from exc
            logger.error("%s; the event was not recorded", message)
            return None

    return helper


class Tracker:
    """Records events for one request (see the module docstring)."""

    def __init__(self, request: HttpRequest, *, deferred: bool = False) -> None:
        self.request = request
        self.deferred = deferred
        self._pending: list[OutboxEvent] = []
        # Transactions already open when the request began (a test case's,
        # say) are not the view's: only deeper ones make an event immediate.
        self._base_depth = self._depth()
        self._awaiting_commit: list[OutboxEvent] = []
        self.identity = Identity(request)
        self.category: str | None = None
        self.sub_category: str | None = None
        self.page_view: OutboxEvent | None = None
        #: Every event this tracker stored, in order.
        self.events: list[OutboxEvent] = []
        self._viewed_products: set[str] = set()
        self._decisions: Decisions | None = None
        #: ``pageUrl`` and ``referrer`` of this request's events when the
        #: page is not the request's URL (the JSON view: a front end's page).
        self.page_fields: dict[str, str] | None = None
        #: Outbox updates left for after the response (a failed live
        #: call's events given back), run by :meth:`settle`.
        self._settle: list[Callable[[], object]] = []
        #: What integrations gather during the request, by their own keys
        #: (see :mod:`.hooks`).
        self.state: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Tracker {self.request.method} {self.request.path!r} active={self.active}>"

    @cached_property
    def untracked_reason(self) -> str | None:
        """``None`` when tracked, else why not (see :mod:`.policy`)."""
        return untracked_reason(self.request)

    @property
    def active(self) -> bool:
        """Whether this request records events (see :mod:`.policy`)."""
        return self.untracked_reason is None

    @cached_property
    def device(self) -> str:
        return device_for(self.request.META.get("HTTP_USER_AGENT"))

    @property
    def user_id(self) -> str:
        return self.identity.resolve().user_id

    @property
    def session_id(self) -> str:
        return self.identity.resolve().session_id

    @property
    def page_url(self) -> str | None:
        """The ``pageUrl`` of this request's events (``None``: none)."""
        page = self.page_fields
        return (request_fields(self.request) if page is None else page).get("pageUrl")

    def common_fields(self) -> dict[str, Any]:
        fields = default_fields()
        page = self.page_fields
        fields.update(request_fields(self.request) if page is None else page)
        fields["userId"] = self.user_id
        fields["sessionId"] = self.session_id
        fields["device"] = self.device
        language = translation.get_language()
        if language:
            fields["lang"] = language.split("-")[0]
        return fields

    # -- recording ------------------------------------------------------------

    def preload(self) -> None:
        """Do this request's blocking reads now (the async middleware calls
        this before the view, off the event loop)."""
        # The helpers' database work runs in this thread, not the loop's:
        # the transactions open here are the ones that were open before.
        self._base_depth = self._depth()
        if self.untracked_reason is not None:
            return
        self.device  # noqa: B018 - cached
        self.identity.resolve()  # may read the session, the user's link, /get/key

    @_not_on_the_event_loop
    def track(self, name: str, **wire_fields: Any) -> OutboxEvent | None:
        """Record any event, the common parameters filled in."""
        return self._record(name, wire_fields)

    def _record(
        self, name: str, wire_fields: Mapping[str, Any], *, first: bool = False
    ) -> OutboxEvent | None:
        if not self.active:
            return None
        event = prepare(name, merge_fields(self.common_fields(), wire_fields))
        return self._store_or_defer(event, first=first)

    @staticmethod
    def _depth() -> int:
        # How many atomic blocks are open. Django has no public API for the
        # depth (``in_atomic_block`` only says "some"), and deferring needs
        # to tell a test case's or ATOMIC_REQUESTS' block from the view's.
        return len(connections[outbox.db_alias()].atomic_blocks)

    def _in_request_transaction(self, depth: int) -> bool:
        """Whether the innermost transaction is ``ATOMIC_REQUESTS``' own
        (one level in, when the request began outside any transaction)."""
        if not (self.deferred and self._base_depth == 0 and depth == 1):
            return False
        return bool(connections[outbox.db_alias()].settings_dict.get("ATOMIC_REQUESTS"))

    def _store_or_defer(self, event: OutboxEvent, *, first: bool = False) -> OutboxEvent | None:
        """Store ``event`` now, or with the response (see module docstring)."""
        depth = self._depth()
        if self.deferred and depth <= self._base_depth:
            self._pending.insert(0 if first else len(self._pending), event)
        elif self._in_request_transaction(depth):
            if not self._awaiting_commit:
                transaction.on_commit(self._committed, using=outbox.db_alias())
            self._awaiting_commit.append(event)
        elif not store([event]):
            return None
        self.events.append(event)
        return event

    def _committed(self) -> None:
        self._pending.extend(self._awaiting_commit)
        self._awaiting_commit = []

    def in_own_transaction(self) -> bool:
        """Whether a transaction opened during the request (the view's, or
        ``ATOMIC_REQUESTS``') is open: what is written now shows only once
        it commits."""
        return self._depth() > self._base_depth

    def keep_pending(self, events: Iterable[OutboxEvent]) -> None:
        """Put deferred events back ahead of the others (a live send that
        did not happen gives them back)."""
        self._pending[:0] = list(events)

    # -- decisions ------------------------------------------------------------

    @property
    def decided(self) -> bool:
        """Whether :meth:`decide` was called: the response is per visitor."""
        return self._decisions is not None

    @_not_on_the_event_loop
    def decide(self, *, page_view: bool = True) -> Decisions:
        """Send this request's events (its PAGE_VIEW included, with the
        category set so far) live and return Dengage's :class:`Decisions`
        (see :mod:`..decisions.live`); the same object on later calls. The
        widgets returned are recorded as INTERACTION impressions. Late,
        failed, untracked or not configured: no widget, and the events are
        delivered by the sender. ``page_view=False``: this request is no
        page (the JSON view), its events say which page it is."""
        if self._decisions is not None:
            return self._decisions
        try:
            decisions = live.decide(self, page_view=page_view)
        except Exception:
            if dengage_settings.STRICT:
                raise
            logger.exception("request.dengage.decide() failed; the page gets no widget")
            decisions = Decisions.empty("failed (see the log)")
        self._decisions = decisions
        for widget in decisions.widgets:
            try:
                self.interaction(
                    "impression", instance_id=widget.instance_id, interaction_id=widget.action_id
                )
            except DengageValidationError as exc:  # Dengage's ids: never the page's fault
                logger.warning("no impression for a widget Dengage answered: %s", exc)
        return decisions

    async def adecide(self, *, page_view: bool = True) -> Decisions:
        """:meth:`decide` for async views."""
        decisions = await sync_to_async(self.decide)(page_view=page_view)
        return decisions if decisions is not None else Decisions.empty("failed")

    def after_response(self, action: Callable[[], object]) -> None:
        """Run ``action``, an outbox update the page need not wait for, with
        the deferred events after the response (:meth:`settle`); at once
        when this tracker does not defer."""
        self._settle.append(action)
        if not self.deferred:
            self.settle()

    def settle(self, *, strict: bool | None = None) -> None:
        """Run the actions left by :meth:`after_response`, in order. One that
        fails is logged (raised in strict mode unless ``strict=False``) and
        the others still run: a live call's events it leaves in flight go
        to the sender once their lease runs out."""
        actions, self._settle = self._settle, []
        failed: Exception | None = None
        for action in actions:
            try:
                action()
            except Exception as exc:
                logger.exception(
                    "dengage-django: an outbox update after the response failed (a live "
                    "call's events it gives back go to the sender when their lease runs out)"
                )
                failed = failed or exc
        if failed is not None and (dengage_settings.STRICT if strict is None else strict):
            raise failed

    def has_pending(self) -> bool:
        """Whether deferred events or :meth:`after_response` actions wait for
        :meth:`flush`."""
        return bool(self._pending or self._settle)

    def drop_pending(self) -> list[OutboxEvent]:
        """Forget the deferred events; returns them."""
        events, self._pending = self._pending, []
        return events

    def flush(self, *, strict: bool | None = None) -> list[OutboxEvent]:
        """Store the deferred events in one INSERT (the middleware has this
        done once the response is sent); if that fails, each on its own, so
        one bad row loses only itself. Returns the events that could not be
        stored (a failure raises in strict mode unless ``strict=False``).
        :meth:`settle` runs first."""
        try:
            self.settle(strict=strict)
        finally:
            lost = store_batch(self.drop_pending(), strict=strict)
        return lost

    # -- async forms ----------------------------------------------------------

    async def atrack(self, name: str, **wire_fields: Any) -> OutboxEvent | None:
        """:meth:`track` for async views."""
        return await sync_to_async(self.track)(name, **wire_fields)

    async def aproduct_view(self, product: Any = None, **fields: Any) -> OutboxEvent | None:
        """:meth:`product_view` for async views."""
        return await sync_to_async(self.product_view)(product, **fields)

    async def abasket_add(self, product: Any = None, /, **fields: Any) -> OutboxEvent | None:
        """:meth:`basket_add` for async views."""
        return await sync_to_async(self.basket_add)(product, **fields)

    async def abasket_remove(self, product: Any = None, /, **fields: Any) -> OutboxEvent | None:
        """:meth:`basket_remove` for async views."""
        return await sync_to_async(self.basket_remove)(product, **fields)

    async def acheckout(self, step: str, **fields: Any) -> OutboxEvent | None:
        """:meth:`checkout` for async views."""
        return await sync_to_async(self.checkout)(step, **fields)

    async def acheckout_basket(self, step: str, basket: Any, **fields: Any) -> OutboxEvent | None:
        """:meth:`checkout_basket` for async views."""
        return await sync_to_async(self.checkout_basket)(step, basket, **fields)

    async def auser_operation(self, step: str, **fields: Any) -> OutboxEvent | None:
        """:meth:`user_operation` for async views."""
        return await sync_to_async(self.user_operation)(step, **fields)

    async def acustom_event(
        self, type: str, params: Mapping[str, Any] | None = None
    ) -> OutboxEvent | None:
        """:meth:`custom_event` for async views."""
        return await sync_to_async(self.custom_event)(type, params)

    async def ainteraction(
        self,
        type: str,
        *,
        instance_id: str | int,
        interaction_id: str | int | None = None,
        **fields: Any,
    ) -> OutboxEvent | None:
        """:meth:`interaction` for async views."""
        return await sync_to_async(self.interaction)(
            type, instance_id=instance_id, interaction_id=interaction_id, **fields
        )

    async def asearch(self, query: str, **fields: Any) -> OutboxEvent | None:
        """:meth:`search` for async views."""
        return await sync_to_async(self.search)(query, **fields)

    async def apage(self, category: str | None = None, sub_category: str | None = None) -> None:
        """:meth:`page` for async views (it does no I/O; here for symmetry)."""
        self.page(category, sub_category)

    def _adapted(
        self, name: str, raw: Any, build: Callable[[], _T]
    ) -> tuple[_T, None] | tuple[None, OutboxEvent | None]:
        """Fields from ``build()``, or the rejection of an unreadable ``raw``."""
        try:
            return build(), None
        except DengageValidationError as exc:
            return None, self._store_or_defer(reject(name, {"input": raw}, exc))

    def page(self, category: str | None = None, sub_category: str | None = None) -> None:
        """Set the category (and subCategory) of this request's PAGE_VIEW."""
        if category is not None:
            self.category = category
        if sub_category is not None:
            self.sub_category = sub_category

    def record_landing(self, query: Mapping[str, Any] | None = None) -> OutboxEvent | None:
        """The INTERACTION of a visitor who followed a widget's link: a GET
        whose query carries ``_sgm_campaign``, ``_sgm_action`` and
        ``_sgm_source`` (or ``utm_source=segmentify`` with ``utm_campaign``,
        ``utm_medium`` and ``utm_content``), the action ``click``; the
        middleware calls this. The values are the visitor's: unusable ones,
        or another action, record nothing, never an error, in strict mode
        too. ``query``: the landing page's query instead of this request's
        (a front end's page, ``parse_qs``'s form)."""
        if not self.active or (query is None and self.request.method != "GET"):
            return None
        found = attribution_from_query(self.request.GET if query is None else query)
        if found is None or found.type != CLICK:
            # A link records a click, nothing else: an impression or a
            # widget-view in a URL would be attribution anyone could forge.
            return None
        fields = {
            "type": found.type,
            "instanceId": found.instance_id,
            "interactionId": found.interaction_id,
        }
        try:
            check_fields("INTERACTION", fields)
        except DengageValidationError as exc:
            logger.debug("no INTERACTION for an unusable landing URL: %s", exc)
            return None
        return self._record("INTERACTION", fields)

    def record_page_view(self, *, not_found: bool = False) -> OutboxEvent | None:
        """The automatic PAGE_VIEW (the middleware calls this; once at most);
        ``not_found``: of a page answered 404."""
        if self.page_view is not None or not self.active:
            return None
        fields: dict[str, Any] = {}
        category, sub_category = self.category, self.sub_category
        if category is None:  # the view set none: DENGAGE_PAGE_CATEGORIES may
            category, by_url = category_for(self.request, not_found=not_found)
            sub_category = by_url if sub_category is None else sub_category
        if category is not None:
            fields["category"] = category
        if sub_category is not None:
            fields["subCategory"] = sub_category
        # Stored ahead of the page's other deferred events, as a browser
        # reports the page before what happens on it.
        self.page_view = self._record("PAGE_VIEW", fields, first=True)
        return self.page_view

    @_not_on_the_event_loop
    def product_view(self, product: Any = None, **fields: Any) -> OutboxEvent | None:
        """PRODUCT_VIEW of ``product`` (a mapping or ``to_dengage()`` object)
        and/or fields; the same product twice in one request counts once."""
        if not self.active:
            return None
        data, rejected = self._adapted(
            "PRODUCT_VIEW", product, lambda: adapters.product_fields(product)
        )
        if data is None:
            return rejected
        data = merge_fields(data, fields)
        product_id = data.get("productId", data.get("product_id"))
        key = str(product_id) if product_id is not None else None
        if key is not None and key in self._viewed_products:
            return None
        event = self.track("PRODUCT_VIEW", **data)
        if key is not None and event is not None:
            self._viewed_products.add(key)
        return event

    @property
    def basket_id(self) -> str:
        """The ``basketId`` of this visitor's basket events (their own
        helpers' default)."""
        return f"basket_{self.user_id}"

    def _basket_id(self, fields: dict[str, Any]) -> dict[str, Any]:
        if "basketId" in fields or "basket_id" in fields:
            return fields
        return {**fields, "basket_id": self.basket_id}

    def _basket_item(self, product: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The item fields of ``product``: an id (``"P1"``, ``42``), or a
        product in any shape the helpers take (a mapping, a ``to_dengage()``
        object, a model through ``DENGAGE_PRODUCT_ADAPTER``), its
        ``productId``, ``price`` and ``currency`` used; ``fields`` win."""
        if product is None or isinstance(product, (str, int)):
            return merge_fields({} if product is None else {"productId": product}, fields)
        return merge_fields(adapters.basket_item(product, "BASKET_OPERATIONS"), fields)

    @_not_on_the_event_loop
    def basket_add(
        self,
        product: Any = None,
        /,
        *,
        price: Number | None = None,
        quantity: Number = 1,
        currency: str | None = None,
        **fields: Any,
    ) -> OutboxEvent | None:
        """BASKET_OPERATIONS ``add`` of ``product`` (an id or a product)."""
        if not self.active:
            return None
        given = dict(fields, price=price, quantity=quantity, currency=currency)
        item, rejected = self._adapted(
            "BASKET_OPERATIONS", product, lambda: self._basket_item(product, given)
        )
        if item is None:
            return rejected
        return self.track("BASKET_OPERATIONS", step="add", **self._basket_id(item))

    @_not_on_the_event_loop
    def basket_remove(
        self, product: Any = None, /, *, quantity: Number = 1, **fields: Any
    ) -> OutboxEvent | None:
        """BASKET_OPERATIONS ``remove`` of ``product`` (an id or a product)."""
        if not self.active:
            return None
        given = dict(fields, quantity=quantity)
        item, rejected = self._adapted(
            "BASKET_OPERATIONS", product, lambda: self._basket_item(product, given)
        )
        if item is None:
            return rejected
        item.pop("price", None)  # a removal carries no price
        item.pop("currency", None)
        return self.track("BASKET_OPERATIONS", step="remove", **self._basket_id(item))

    @_not_on_the_event_loop
    def checkout(
        self,
        step: str,
        *,
        total_price: Number,
        products: Iterable[Any] | None,
        currency: str | None = None,
        **fields: Any,
    ) -> OutboxEvent | None:
        """CHECKOUT ``step`` with ``products`` (mappings or ``to_dengage()``
        objects; only productId, price, currency and quantity are kept)."""
        if not self.active:
            return None
        items, rejected = self._adapted(
            "CHECKOUT",
            products,
            lambda: [adapters.basket_item(product) for product in products or ()],
        )
        if items is None:
            return rejected
        if not items:
            return None  # an empty basket: nothing to report
        return self.track(
            "CHECKOUT",
            step=step,
            total_price=total_price,
            product_list=items,
            currency=currency,
            **self._basket_id(fields),
        )

    @_not_on_the_event_loop
    def checkout_basket(self, step: str, basket: Any, **fields: Any) -> OutboxEvent | None:
        """CHECKOUT ``step`` of a whole basket (see :mod:`..events.adapters`)."""
        if not self.active:
            return None
        data, rejected = self._adapted("CHECKOUT", basket, lambda: adapters.basket_fields(basket))
        if data is None:
            return rejected
        if not data["products"]:
            return None  # an empty basket: nothing to report
        data.update(fields)
        return self.checkout(step, **data)

    @_not_on_the_event_loop
    def user_operation(self, step: str, **fields: Any) -> OutboxEvent | None:
        return self.track("USER_OPERATIONS", step=step, **fields)

    @_not_on_the_event_loop
    def custom_event(
        self, type: str, params: Mapping[str, Any] | None = None
    ) -> OutboxEvent | None:
        return self.track("CUSTOM_EVENT", type=type, params=params)

    # INTERACTION and SEARCH go straight to _record (not through track) so
    # that on the event loop the message names their own async forms.

    @_not_on_the_event_loop
    def interaction(
        self,
        type: str,
        *,
        instance_id: str | int,
        interaction_id: str | int | None = None,
        **fields: Any,
    ) -> OutboxEvent | None:
        """INTERACTION ``type`` (``"impression"``, ``"widget-view"``,
        ``"click"``...) with a campaign: ``instance_id`` is the widget's
        instanceId, ``interaction_id`` its action id (the vendor's own
        widgets always send it: pass it whenever you have one)."""
        return self._record(
            "INTERACTION",
            {**fields, "type": type, "instance_id": instance_id, "interaction_id": interaction_id},
        )

    @_not_on_the_event_loop
    def search(self, query: str, **fields: Any) -> OutboxEvent | None:
        """SEARCH for ``query``, the visitor's search text: cleaned of broken
        unicode and NULs, cut to ``DENGAGE_MAX_STRING_LENGTH`` and stripped,
        never an error for that; a blank query is bad input."""
        return self._record("SEARCH", {**fields, "query": query})
