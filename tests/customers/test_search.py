"""Every way a customer enters the CRM leaves it findable by search."""

from django.core.management import call_command
from django.urls import reverse

from customers import services
from customers.models import Customer
from customers.normalize import search_text
from tests.factories import ContactFactory


def test_customer_created_in_the_app_is_found_by_name_phone_and_email(owner):
    services.customer_create(
        actor=owner, data={"name": "ＡＣＭＥ Trading 有限公司", "phone": "+86 138-0013-8000", "email": "Buyer@Acme.CN"}
    )
    for query in ("acme trading", "ACME", "有限公司", "138 0013 8000", "buyer@acme", "0013800"):
        assert Customer.objects.search(query).count() == 1, query


def test_edited_fields_are_searchable_and_old_values_are_not(owner):
    customer = services.customer_create(actor=owner, data={"name": "Old Name", "phone": "13800000001"})
    services.customer_update(customer=customer, actor=owner, data={"name": "New Name"}, expected_version=1)
    assert list(Customer.objects.search("new name")) == [customer]
    assert not Customer.objects.search("old name").exists()


def test_customer_is_found_by_a_contacts_name(owner):
    customer = services.customer_create(actor=owner, data={"name": "Hangzhou Cloud", "phone": "13800000001"})
    contact = ContactFactory.build(customer=customer, name="王小明", phone="", email="wang@cloud.cn")
    services.contact_save(contact=contact, actor=owner)
    assert list(Customer.objects.search("小明")) == [customer]


def test_imported_customers_are_found_by_search(db, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("external_ref,name,phone,email\nX-1,苏州精工制造,13912345678,sales@jinggong.cn\n", encoding="utf-8")
    call_command("import_customers", str(path))
    for query in ("精工", "1391234", "jinggong", "x-1"):
        assert Customer.objects.search(query).count() == 1, query


def test_seeded_customers_are_found_by_search(db):
    call_command("seed_demo", customers=30, seed=3, verbosity=0)
    customer = Customer.objects.order_by("pk").first()
    assert customer.search_text == search_text(
        customer.name, customer.email, customer.external_ref, customer.phone_digits
    )
    assert customer in Customer.objects.search(customer.name[1:4])


def test_list_search_uses_the_stored_search_text(login, owner):
    services.customer_create(actor=owner, data={"name": "Harbor Logistics", "phone": "13800000009", "owner": owner})
    page = login(owner).get(reverse("customers:list"), {"q": "harbor LOG"}).content.decode()
    assert "Harbor Logistics" in page
