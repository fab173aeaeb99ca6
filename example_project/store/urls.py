from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "store"

urlpatterns = [
    path("", views.home, name="home"),
    path("category/<slug:slug>/", views.category, name="category"),
    path("product/<slug:slug>/", views.product, name="product"),
    path("search/", views.search, name="search"),
    path("basket/", views.basket, name="basket"),
    path("basket/add/", views.basket_add, name="basket_add"),
    path("basket/remove/", views.basket_remove, name="basket_remove"),
    path("checkout/customer/", views.checkout_customer, name="checkout_customer"),
    path("checkout/payment/", views.checkout_payment, name="checkout_payment"),
    path("checkout/done/<int:order_id>/", views.checkout_done, name="checkout_done"),
    path("wishlist/add/", views.wishlist_add, name="wishlist_add"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path("staff/customers/", views.staff_customers, name="staff_customers"),
    path(
        "staff/customers/<int:user_id>/edit/",
        views.staff_customer_edit,
        name="staff_customer_edit",
    ),
    path("webhooks/payment/", views.payment_webhook, name="payment_webhook"),
]
