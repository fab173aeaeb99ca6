"""``manage.py seed_shop``: the example shop's categories and products.

Idempotent: categories are matched by slug and products by SKU, and brought
back to the values below (prices, stock ...) on every run.
"""

from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from example_project.store.models import Category, Product

CATEGORIES = [
    # slug, name, path
    ("men-shoes", "Men's Shoes", "Men > Sports > Shoes"),
    ("men-clothing", "Men's Clothing", "Men > Sports > Clothing"),
    ("women-shoes", "Women's Shoes", "Women > Sports > Shoes"),
    ("women-clothing", "Women's Clothing", "Women > Sports > Clothing"),
    ("caps", "Caps", "Accessories > Caps"),
    ("bags", "Bags", "Accessories > Bags"),
    ("essentials", "Essentials", "Accessories > Essentials"),
]

SHOE_SIZES_MEN = "40, 41, 42, 43, 44, 45"
SHOE_SIZES_WOMEN = "36, 37, 38, 39, 40, 41"

PRODUCTS = [
    {
        "sku": "RUN-001",
        "name": "Aero Runner 2",
        "brand": "Stride",
        "category": "men-shoes",
        "price": "89.95",
        "old_price": "119.95",
        "colours": "Blue, White",
        "sizes": SHOE_SIZES_MEN,
        "stock": 14,
        "description": "A light, springy daily trainer.\n"
        "Breathable mesh upper, 8 mm drop, 245 g in size 42.",
    },
    {
        "sku": "RUN-002",
        "name": "Trail Blazer GTX",
        "brand": "Northpeak",
        "category": "men-shoes",
        "price": "129.00",
        "colours": "Olive, Black",
        "sizes": "41, 42, 43, 44, 45, 46",
        "stock": 3,
        "description": "Waterproof trail shoe with a 5 mm lugged outsole for mud and rock.",
    },
    {
        "sku": "RUN-003",
        "name": "Cloud Glide W",
        "brand": "Stride",
        "category": "women-shoes",
        "price": "99.00",
        "old_price": "110.00",
        "colours": "Pink, Grey",
        "sizes": SHOE_SIZES_WOMEN,
        "stock": 20,
        "description": "Soft cushioning for long, easy runs.",
    },
    {
        "sku": "RUN-004",
        "name": "Court Classic",
        "brand": "Lumen",
        "category": "women-shoes",
        "price": "74.50",
        "colours": "White",
        "sizes": SHOE_SIZES_WOMEN,
        "stock": 0,
        "description": "Clean leather court sneaker. Back in stock soon.",
    },
    {
        "sku": "CAP-001",
        "name": "Sprint Cap",
        "brand": "Stride",
        "category": "caps",
        "price": "19.90",
        "colours": "Red, Navy",
        "stock": 40,
        "description": "Featherweight running cap with a reflective back strap.",
    },
    {
        "sku": "CAP-002",
        "name": "Sun Visor",
        "brand": "Lumen",
        "category": "caps",
        "price": "14.50",
        "old_price": "18.00",
        "colours": "Yellow, White",
        "stock": 25,
        "description": "Sweat-wicking band, open top: for the hottest days.",
    },
    {
        "sku": "BAG-001",
        "name": "Daypack 20L",
        "brand": "Northpeak",
        "category": "bags",
        "price": "59.00",
        "colours": "Orange, Black",
        "stock": 12,
        "description": "20 litres, padded laptop sleeve, rain cover in the base pocket.",
    },
    {
        "sku": "BAG-002",
        "name": "Gym Duffel",
        "brand": "Stride",
        "category": "bags",
        "price": "44.95",
        "old_price": "54.95",
        "colours": "Grey",
        "stock": 7,
        "description": "35 litres with a ventilated shoe compartment.",
    },
    {
        "sku": "TEE-001",
        "name": "Dry-Fit Tee",
        "brand": "Stride",
        "category": "men-clothing",
        "price": "24.99",
        "colours": "Lime, Black",
        "sizes": "S, M, L, XL",
        "stock": 30,
        "description": "Quick-drying recycled polyester, flat seams.",
    },
    {
        "sku": "TEE-002",
        "name": "Seamless Tank",
        "brand": "Lumen",
        "category": "women-clothing",
        "price": "29.00",
        "colours": "Teal",
        "sizes": "XS, S, M, L",
        "stock": 18,
        "description": "Seamless knit tank top that stays put.",
    },
    {
        "sku": "SOCK-001",
        "name": "Cushion Socks (3 pairs)",
        "brand": "Stride",
        "category": "essentials",
        "price": "12.99",
        "colours": "White",
        "sizes": "35-38, 39-42, 43-46",
        "stock": 60,
        "description": "Cushioned heel and toe, arch support, three pairs.",
    },
    {
        "sku": "BOT-001",
        "name": "Insulated Bottle 750 ml",
        "brand": "Northpeak",
        "category": "essentials",
        "price": "24.00",
        "old_price": "29.00",
        "colours": "Green, Steel",
        "stock": 9,
        "description": "Keeps water cold for 24 hours. Stainless steel, no plastic taste.",
    },
]


class Command(BaseCommand):
    help = "Create (or reset) the example shop's categories and products."

    @transaction.atomic
    def handle(self, *args, **options):
        categories = {}
        for slug, name, path in CATEGORIES:
            categories[slug], _ = Category.objects.update_or_create(
                slug=slug, defaults={"name": name, "path": path}
            )
        created = 0
        for data in PRODUCTS:
            data = dict(data)
            sku = data.pop("sku")
            old_price = data.pop("old_price", None)
            slug = sku.lower()
            _, was_created = Product.objects.update_or_create(
                sku=sku,
                defaults={
                    **data,
                    "slug": slug,
                    "category": categories[data["category"]],
                    "price": Decimal(data["price"]),
                    "old_price": Decimal(old_price) if old_price else None,
                    "sizes": data.get("sizes", ""),
                    "image": f"store/img/{slug}.svg",
                },
            )
            created += was_created
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(categories)} categories, {len(PRODUCTS)} products ({created} new)."
            )
        )
