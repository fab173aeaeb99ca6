from django.contrib import admin

from .models import Category, Order, OrderLine, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["path", "name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "path"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "brand", "category", "price", "old_price", "stock"]
    list_filter = ["category", "brand"]
    search_fields = ["sku", "name", "brand"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "full_name", "email", "status", "payment_type", "total", "created_at"]
    list_filter = ["status", "payment_type"]
    search_fields = ["email", "full_name"]
    raw_id_fields = ["customer"]
    inlines = [OrderLineInline]
    date_hierarchy = "created_at"
