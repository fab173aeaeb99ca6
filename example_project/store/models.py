from django.conf import settings
from django.db import models
from django.templatetags.static import static
from django.urls import reverse


def absolute(path):
    """``path`` on the shop's public origin (``DENGAGE_ORIGIN``)."""
    return settings.DENGAGE_ORIGIN.rstrip("/") + path


def split_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    path = models.CharField(max_length=255, help_text='e.g. "Men > Sports > Shoes"')

    class Meta:
        ordering = ["path"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.path

    def get_absolute_url(self):
        return reverse("store:category", args=[self.slug])


class Product(models.Model):
    sku = models.CharField("SKU", max_length=32, unique=True)
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    brand = models.CharField(max_length=100, blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    old_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    colours = models.CharField(max_length=200, blank=True, help_text="comma-separated")
    sizes = models.CharField(max_length=200, blank=True, help_text="comma-separated")
    stock = models.PositiveIntegerField(default=0)
    image = models.CharField(max_length=200, blank=True, help_text="a static path")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self):
        return reverse("store:product", args=[self.slug])

    @property
    def colour_list(self):
        return split_list(self.colours)

    @property
    def size_list(self):
        return split_list(self.sizes)

    @property
    def in_stock(self):
        return self.stock > 0

    @property
    def image_url(self):
        return static(self.image) if self.image else ""

    @property
    def discount_percent(self):
        if self.old_price and self.old_price > self.price:
            return round((1 - self.price / self.old_price) * 100)
        return None

    def to_dengage(self):
        data = {
            "product_id": self.sku,
            "title": self.name,
            "url": absolute(self.get_absolute_url()),
            "category": self.category.path,
            "brand": self.brand or None,
            "price": self.price,
            "in_stock": self.in_stock,
            "stock_count": self.stock,
            "colors": self.colour_list,
            "sizes": self.size_list,
        }
        if self.image:
            data["image"] = absolute(self.image_url)
        if self.old_price is not None:
            data["old_price"] = self.old_price
        return data


class Order(models.Model):
    NEW = "new"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    STATUSES = [(NEW, "New"), (AWAITING_PAYMENT, "Awaiting payment"), (PAID, "Paid")]
    CARD = "credit_card"
    PAYMENT_TYPES = [
        (CARD, "Credit card"),
        ("paypal", "PayPal"),
        ("cash_on_delivery", "Cash on delivery"),
    ]

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
    )
    email = models.EmailField()
    full_name = models.CharField(max_length=200)
    address = models.TextField()
    payment_type = models.CharField(max_length=32, choices=PAYMENT_TYPES)
    status = models.CharField(max_length=16, choices=STATUSES, default=NEW)
    total = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Order #{self.pk}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self):
        return f"{self.quantity} x {self.product.sku}"

    @property
    def subtotal(self):
        return self.price * self.quantity
