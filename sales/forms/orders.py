"""Forms of products and orders: the product form, the order header and its line formset."""

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MinValueValidator
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from customers.forms import sales_users_for
from customers.models import Customer

from ..models import MONEY, Product
from ..services.orders import LineDraft

NOT_NEGATIVE = [MinValueValidator(Decimal(0), message=_("Must be zero or more."))]


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["sku", "name", "category", "unit_price", "unit_cost", "active"]
        help_texts = {
            "unit_price": _("The list price; orders take it when a line's price is left blank."),
            "unit_cost": _("What one unit costs you; each order line keeps the cost as of the sale."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("unit_price", "unit_cost"):
            self.fields[name].validators += NOT_NEGATIVE
            self.fields[name].widget.attrs.update(min="0", step="0.01")
        for field in self.fields.values():
            css = "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control"
            field.widget.attrs["class"] = css
        categories = Product.objects.exclude(category="").order_by("category").values_list("category", flat=True)
        self.category_choices = list(categories.distinct())
        self.fields["category"].widget.attrs["list"] = "product-categories"

    def clean_sku(self):
        sku = self.cleaned_data["sku"].strip()
        if not sku:
            raise forms.ValidationError(_("Enter the SKU."))
        # Case-insensitive: "ab-1" and "AB-1" on two products would confuse every import and report.
        clash = Product.objects.filter(sku__iexact=sku).exclude(pk=self.instance.pk).first()
        if clash:
            raise forms.ValidationError(
                _("The SKU %(sku)s is already used by “%(name)s”."), params={"sku": clash.sku, "name": clash.name}
            )
        return sku

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter the product's name."))
        return name

    def validate_unique(self):
        # clean_sku gives the clearer message; the database constraint still guards races.
        pass


class ProductSelect(forms.Select):
    """Product options carrying their price and cost (data attributes) so that the page can fill a line
    in without a request; rendered in Python because every line of the form repeats the whole list."""

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.products = products

    def render(self, name, value, attrs=None, renderer=None):
        selected = str(value) if value not in (None, "") else ""
        options = format_html_join(
            "",
            '<option value="{}" data-price="{}" data-cost="{}"{}>{}</option>',
            (
                (p.pk, p.unit_price, p.unit_cost, " selected" if str(p.pk) == selected else "", str(p))
                for p in self.products
            ),
        )
        final = self.build_attrs(self.attrs, attrs)
        return format_html(
            '<select name="{}"{}><option value="">{}</option>{}</select>',
            name,
            flatatt(final),
            _("Choose a product…"),
            options,
        )


class OrderLineForm(forms.Form):
    line_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none(), required=False)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"),
        max_digits=12,
        decimal_places=2,
        initial=Decimal(1),
        validators=[MinValueValidator(Decimal("0.01"), message=_("The quantity must be more than zero."))],
    )
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        required=False,
        max_digits=MONEY["max_digits"],
        decimal_places=MONEY["decimal_places"],
        validators=NOT_NEGATIVE,
        help_text=_("Blank: the product's price."),
    )

    def __init__(self, *args, products=(), product_queryset=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = product_queryset if product_queryset is not None else Product.objects.none()
        self.fields["product"].widget = ProductSelect(attrs={"class": "form-select line-product"}, products=products)
        self.fields["description"].widget.attrs.update({"class": "form-control line-description"})
        self.fields["quantity"].widget.attrs.update(
            {"class": "form-control line-quantity", "min": "0.01", "step": "any"}
        )
        self.fields["unit_price"].widget.attrs.update({"class": "form-control line-price", "min": "0", "step": "0.01"})

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("product"):
            if not cleaned.get("description"):
                self.add_error("product", _("Choose a product (or describe the item and give its price)."))
            elif cleaned.get("unit_price") is None:
                self.add_error("unit_price", _("A line without a product needs a price."))
        return cleaned

    def draft(self) -> LineDraft:
        data = self.cleaned_data
        return LineDraft(
            product=data["product"],
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            description=data["description"].strip(),
            line_id=data.get("line_id"),
        )


class BaseOrderLineFormSet(forms.BaseFormSet):
    def __init__(self, *args, order=None, **kwargs):
        # Active products, plus any inactive one a line of this order already has (it must stay selectable).
        current = set(order.lines.exclude(product=None).values_list("product_id", flat=True)) if order else set()
        queryset = Product.objects.filter(active=True) | Product.objects.filter(pk__in=current)
        self.products = list(queryset.order_by("name", "pk"))
        self.product_queryset = queryset
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {"products": self.products, "product_queryset": self.product_queryset}

    def kept_forms(self):
        return [f for f in self.forms if f.has_changed() and not self._should_delete_form(f) and f.is_valid()]

    def clean(self):
        if any(self.errors):
            return
        if not self.kept_forms():
            raise forms.ValidationError(_("Add at least one line."))

    def drafts(self) -> list[LineDraft]:
        return [form.draft() for form in self.kept_forms()]


OrderLineFormSet = forms.formset_factory(OrderLineForm, formset=BaseOrderLineFormSet, extra=1, can_delete=True)


class OrderForm(forms.Form):
    """The order's header. The customer is fixed when the order comes from a customer's page or exists."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    customer_lookup = forms.CharField(
        label=_("Customer"),
        required=False,
        help_text=_("The customer's exact name or external reference."),
    )
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None)
    ordered_at = forms.DateField(
        label=_("Order date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, customer=None, order=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.customer = customer
        self.order = order
        owners = sales_users_for(user)
        if order is not None and order.owner_id:
            # The current owner stays choosable even when outside the editor's team.
            owners = owners | get_user_model().objects.filter(pk=order.owner_id)
        self.fields["owner"].queryset = owners
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username
        if customer is not None:
            del self.fields["customer_lookup"]
        else:
            self.fields["customer_lookup"].required = True
        if order is not None:
            self.fields["version"].required = True
        for field in self.fields.values():
            if not isinstance(field.widget, forms.HiddenInput):
                css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
                field.widget.attrs.setdefault("class", css)

    def clean_customer_lookup(self):
        text = self.cleaned_data["customer_lookup"].strip()
        editable = Customer.objects.editable_by(self.user).filter(archived=False)
        matches = list(editable.filter(external_ref=text)[:2]) or list(editable.filter(name=text)[:2])
        if not matches:
            raise forms.ValidationError(_("None of the customers you can sell to has this exact name or reference."))
        if len(matches) > 1:
            raise forms.ValidationError(_("Several customers have this name: enter the external reference instead."))
        self.customer = matches[0]
        return text

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {"owner": data["owner"], "ordered_at": data["ordered_at"], "notes": data["notes"].strip()}
