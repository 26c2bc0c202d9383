"""A pre-normalised search column on customers and contacts, filled for existing rows, with a
trigram index on PostgreSQL so substring search does not scan the tables; and an index for "my recent
interactions"."""

import unicodedata

from django.db import migrations, models


def _search_text(*parts):
    # A frozen copy of customers.normalize.search_text: migrations must not import app code.
    keys = (unicodedata.normalize("NFKC", part or "").casefold().strip() for part in parts)
    return "\n".join(key for key in keys if key)


def fill_search_text(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    Contact = apps.get_model("customers", "Contact")
    batch = []
    for customer in Customer.objects.only("name", "email", "external_ref", "phone_digits").iterator(chunk_size=2000):
        customer.search_text = _search_text(customer.name, customer.email, customer.external_ref, customer.phone_digits)
        batch.append(customer)
        if len(batch) == 2000:
            Customer.objects.bulk_update(batch, ["search_text"])
            batch = []
    Customer.objects.bulk_update(batch, ["search_text"])
    batch = []
    for contact in Contact.objects.only("name", "email", "phone_digits").iterator(chunk_size=2000):
        contact.search_text = _search_text(contact.name, contact.email, contact.phone_digits)
        batch.append(contact)
        if len(batch) == 2000:
            Contact.objects.bulk_update(batch, ["search_text"])
            batch = []
    Contact.objects.bulk_update(batch, ["search_text"])


def add_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table in ("customers_customer", "customers_contact"):
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_search_trgm ON {table} USING gin (search_text gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in ("customers_customer", "customers_contact"):
        schema_editor.execute(f"DROP INDEX IF EXISTS {table}_search_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="search_text",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="customer",
            name="search_text",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddIndex(
            model_name="interaction",
            index=models.Index(fields=["actor", "-occurred_at"], name="interaction_actor_time"),
        ),
        migrations.RemoveIndex(model_name="customer", name="customer_tier"),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["archived", "tier"], name="customer_archived_tier"),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes),
    ]
