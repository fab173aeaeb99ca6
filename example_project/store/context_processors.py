from .basket import Basket
from .models import Category


def shop(request):
    """The header's categories menu and basket count, on every page."""
    session = getattr(request, "session", None)
    return {
        "menu_categories": Category.objects.all(),
        "basket_count": Basket(session).count if session is not None else 0,
    }
