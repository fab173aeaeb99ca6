"""Models for the customer-lifecycle tests."""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class CustomerManager(BaseUserManager):
    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class Customer(AbstractBaseUser):
    """A custom user model: e-mail as USERNAME_FIELD, no first/last name."""

    email = models.EmailField(unique=True)
    phone_number = models.CharField(max_length=30, blank=True)
    gender = models.CharField(max_length=1, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    objects = CustomerManager()

    class Meta:
        app_label = "accounts"


class Order(models.Model):
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, default="new")
    total = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        app_label = "accounts"

    def __str__(self):
        return f"Order {self.pk} ({self.status})"
