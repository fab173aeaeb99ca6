from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from .models import Order


class CustomerForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=200)
    email = forms.EmailField(label="Email")
    address = forms.CharField(label="Delivery address", widget=forms.Textarea(attrs={"rows": 3}))


class PaymentForm(forms.Form):
    payment_type = forms.ChoiceField(label="Payment", choices=Order.PAYMENT_TYPES)
    card_number = forms.CharField(
        label="Card number",
        required=False,
        max_length=19,
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )

    def clean_card_number(self):
        return self.cleaned_data["card_number"].replace(" ", "")


class SignupForm(UserCreationForm):
    email = forms.EmailField(label="Email")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class ProfileForm(forms.ModelForm):
    class Meta:
        model = get_user_model()
        fields = ("first_name", "last_name", "email")
