from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.home),
    path("p/<int:pk>/", views.product),
    path("basket/add/<int:pk>/", views.basket_add),
    path("basket/remove/<int:pk>/", views.basket_remove),
    path("checkout/<str:step>/", views.checkout),
    path("purchase/", views.purchase),
    path("custom/", views.custom),
    path("api/", views.api),
    path("missing/", views.missing),
    path("bad-product/", views.bad_product),
    path("none-product/", views.none_product),
    path("plain/", views.plain_text),
    path("async/", views.async_home),
    path("login/", views.sign_in),
    path("logout/", views.sign_out),
    path("signup/", views.sign_up),
    path("profile/", views.profile),
    path("staff/customers/<int:pk>/", views.staff_edit_customer),
    path("staff/customers/new/", views.staff_create_customer),
    path("webhooks/payment/", views.payment_webhook),
    path("broken/", views.broken_category),
    path("basket/empty/", views.empty_basket),
    path("async/basket-sync/", views.async_basket_sync_helper),
    path("async/basket/", views.async_basket),
    path("fail/", views.record_then_fail),
    path("staff/orders/new/", views.staff_create_order),
    path("recommended/<int:pk>/", views.recommended),
    path("async/recommended/", views.async_recommended),
    path("dengage/", include("dengage_django.urls")),
    path("go/", RedirectView.as_view(url="/", query_string=True)),
]
