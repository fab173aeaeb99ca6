"""What the Oscar integration sets up for the whole shop: page categories
(subCategory, 404), the dashboard as a staff area, the currency, the
username, the brand, the product adapter setting."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from oscar.core.loading import get_model

from dengage_django.models import OutboxEvent

from .shop import browser, product, recorded, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def shoe():
    return product("Trail Runner", "89.90", category="Men > Sports > Shoes")


def test_a_category_page_reports_its_category_path(shoe):
    category = get_model("catalogue", "Category").objects.get(name="Shoes")
    assert browser().get(category.get_absolute_url()).status_code == 200
    [page] = recorded("PAGE_VIEW")
    assert (page["category"], page["subCategory"]) == ("Category Page", "Men > Sports > Shoes")


def test_a_category_the_view_does_not_show_is_read_from_the_url(shoe):
    from dengage_django.contrib.oscar.pages import _category

    category = get_model("catalogue", "Category").objects.get(name="Sports")
    assert _category(None, {"pk": category.pk}) == category
    assert _category(None, {"pk": 999_999}) is None
    assert _category(None, {}) is None


def test_a_page_oscar_does_not_find_is_a_404_page(shoe):
    assert browser().get("/catalogue/no-such-thing_999999/").status_code == 404
    assert browser().get("/nowhere/").status_code == 404
    assert [p["category"] for p in recorded("PAGE_VIEW")] == ["404 Page", "404 Page"]


def test_oscars_dashboard_is_a_staff_area(shoe):
    staff = get_user_model().objects.create_user(
        "staff", "staff@example.com", "pw", is_staff=True, is_superuser=True
    )
    client = browser()
    client.force_login(staff)
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/dashboard/catalogue/").status_code == 200
    assert recorded("PAGE_VIEW") == []
    client.get("/catalogue/")  # the shop itself is tracked
    assert len(recorded("PAGE_VIEW")) == 1


def test_events_carry_oscars_currency_unless_dengage_sets_one(shoe, settings):
    client = browser()
    client.get("/catalogue/")
    settings.DENGAGE_DEFAULT_CURRENCY = "TRY"
    client.get("/catalogue/")
    assert [p["currency"] for p in recorded("PAGE_VIEW")] == ["EUR", "TRY"]


def test_a_registered_customer_is_named_by_their_email():
    client = browser()
    assert client.get("/accounts/login/").status_code == 200
    register(client, "ada@example.com")
    [signup] = recorded("USER_OPERATIONS", step="signup")
    user = get_user_model().objects.get(email="ada@example.com")
    assert user.username != "ada@example.com"  # Oscar made one up
    assert signup["username"] == "ada@example.com"
    [page] = recorded("PAGE_VIEW")
    assert signup["userId"] == page["userId"]  # the visitor who signed up


def test_the_shops_user_fields_win_over_the_email_username(settings):
    settings.DENGAGE_USER_FIELDS = lambda user: {"username": f"customer-{user.pk}"}
    register(browser(), "bo@example.com")
    [signup] = recorded("USER_OPERATIONS", step="signup")
    assert signup["username"].startswith("customer-")


def test_the_brand_comes_from_the_configured_attribute(settings):
    ProductAttribute = get_model("catalogue", "ProductAttribute")
    shoe = product("Trail Runner", "89.90")
    ProductAttribute.objects.create(
        product_class=shoe.product_class, code="maker", name="Maker", type="text"
    )
    shoe.attr.maker = "Salomon"
    shoe.attr.save()
    browser().get(shoe.get_absolute_url())
    settings.DENGAGE_OSCAR_BRAND_ATTRIBUTE = "maker"
    browser().get(shoe.get_absolute_url())
    assert [view.get("brand") for view in recorded("PRODUCT_VIEW")] == [None, "Salomon"]


def test_a_variant_without_its_own_brand_has_its_parents(settings):
    settings.DENGAGE_OSCAR_BRAND_ATTRIBUTE = "maker"
    ProductAttribute = get_model("catalogue", "ProductAttribute")
    parent = product("Runner", "0", structure="parent")
    ProductAttribute.objects.create(
        product_class=parent.product_class, code="maker", name="Maker", type="text"
    )
    parent.attr.maker = "Salomon"
    parent.attr.save()
    child = product("Runner 42", "50", parent=parent)
    browser().get(child.get_absolute_url())
    [view] = recorded("PRODUCT_VIEW")
    assert view["brand"] == "Salomon" and view["groupId"] == str(parent.pk)


def test_a_products_image_is_its_primary_images_url(shoe, settings, tmp_path):
    from PIL import Image

    settings.MEDIA_ROOT = str(tmp_path)
    data = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(data, "PNG")
    ProductImage = get_model("catalogue", "ProductImage")
    ProductImage.objects.create(
        product=shoe, original=SimpleUploadedFile("shoe.png", data.getvalue()), display_order=0
    )
    assert browser().get(shoe.get_absolute_url()).status_code == 200
    [view] = recorded("PRODUCT_VIEW")
    assert view["image"].startswith("http://testserver/media/")
    assert view["image"].endswith(".png")


def test_a_shops_product_adapter_replaces_the_fields(shoe, settings):
    settings.DENGAGE_OSCAR_PRODUCT_ADAPTER = "tests.oscar.test_oscar_shop.sku_fields"
    browser().get(shoe.get_absolute_url())
    [view] = recorded("PRODUCT_VIEW")
    assert view["productId"] == f"SKU-{shoe.pk}" and view["title"] == "Trail Runner"
    assert view["price"] == 89.9  # what the adapter kept of Oscar's


def sku_fields(product, request):
    from dengage_django.contrib.oscar.products import product_fields

    return {**product_fields(product, request), "productId": f"SKU-{product.pk}"}


def test_a_replaced_user_model_keeps_its_username_field():
    from django.contrib.auth.models import AbstractUser as DjangoUser
    from oscar.apps.customer.abstract_models import AbstractUser as OscarUser

    from dengage_django.contrib.oscar.users import user_fields

    class Customer(OscarUser):  # Oscar's own: log-in by e-mail
        class Meta:
            app_label = "dengage_oscar"

    class Member(DjangoUser):  # a shop's, with usernames of its own
        class Meta:
            app_label = "dengage_oscar"

    assert user_fields(Customer(email="cy@example.com"))["username"] == "cy@example.com"
    member = Member(username="member-7", email="di@example.com")
    assert user_fields(member)["username"] == "member-7"
    django_user = get_user_model()(username="x81f3", email="di@example.com")
    assert user_fields(django_user)["username"] == "di@example.com"
    assert user_fields(get_user_model()(username="x81f3"))["username"] == "x81f3"  # no e-mail


def test_a_product_viewed_signal_without_a_response_still_counts(shoe):
    # A fork's view sending the signal without its response (Oscar's own
    # analytics receiver needs one: called directly).
    from dengage_django.contrib.oscar.receivers import on_product_viewed
    from dengage_django.tracking.tracker import Tracker

    request = browser().get("/catalogue/").wsgi_request  # a tracked visitor's request
    request.dengage = Tracker(request)
    on_product_viewed(sender=None, product=shoe, user=None, request=request)
    request.method = "HEAD"
    on_product_viewed(sender=None, product=shoe, user=None, request=request)
    assert [view["productId"] for view in recorded("PRODUCT_VIEW")] == [str(shoe.pk)]


def test_a_shop_without_one_of_oscars_apps_still_starts(monkeypatch, caplog):
    from oscar.apps.search.signals import user_search
    from oscar.core import loading

    from dengage_django.contrib.oscar import receivers

    def missing(module_label, classname, **kwargs):
        raise loading.AppNotFoundError(f"No app found matching '{module_label}'")

    assert user_search.disconnect(dispatch_uid="dengage_django.oscar.user_search")
    monkeypatch.setattr(loading, "get_class", missing)
    caplog.set_level("DEBUG", logger="dengage_django.contrib.oscar.receivers")
    receivers.connect()  # Oscar's own signals only
    assert "no search.signals.user_search to load" in caplog.text
    uids = [receiver[0][0] for receiver in user_search.receivers]
    assert "dengage_django.oscar.user_search" in uids  # connected again, to Oscar's own


def test_a_forks_broken_signals_module_is_not_hidden(monkeypatch):
    from oscar.core import loading

    from dengage_django.contrib.oscar import receivers

    def broken(module_label, classname, **kwargs):
        raise ImportError("No module named 'shop.search.signalz'")

    monkeypatch.setattr(loading, "get_class", broken)
    with pytest.raises(ImportError, match="signalz"):
        receivers.connect()


def test_a_bot_in_the_oscar_shop_records_nothing(shoe):
    from django.test import Client

    bot = Client(headers={"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    bot.get(shoe.get_absolute_url())
    bot.post(f"/basket/add/{shoe.pk}/", {"quantity": "1"})
    bot.get("/basket/")
    bot.get("/search/?q=trail")
    assert list(OutboxEvent.objects.all()) == []


def test_the_oscar_shop_under_asgi_records_its_events(shoe):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    headers = {"user-agent": browser().defaults["HTTP_USER_AGENT"], "accept": "text/html"}
    response = async_to_sync(AsyncClient().get)(shoe.get_absolute_url(), headers=headers)
    assert response.status_code == 200
    assert [p["category"] for p in recorded("PAGE_VIEW")] == ["Product Page"]
    [view] = recorded("PRODUCT_VIEW")
    assert view["userId"] == response.cookies["dengage_uid"].value
