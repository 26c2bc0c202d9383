"""Realistic bilingual demo data and the demo users of DESIGN.md.

The data depend only on --seed (and, with --append, on how many demo customers exist), so two
runs with the same seed into empty databases give identical customers. Rows go to the database
in chunks with no query per row: ids come from each table's own sequence first, so that every
reference is known before anything is written, and plain rows are inserted in large batches,
skipping the model layer (and so django-simple-history, which is fine for seeded rows).
"""

import datetime
import random
import re
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import demo_data as data
from customers import demo_steps
from customers.bulk import TableWriter, reserve_ids
from customers.models import Contact, Customer, Interaction, Tag, Task, Team
from customers.normalize import normalize_email, normalize_phone, search_text

# Customers generated and written per round; their contacts, interactions and tags follow them.
CHUNK = 5000
EXTERNAL_REF = re.compile(r"^C(\d+)$")
HISTORY_DAYS = 3 * 365
# One customer in this many is a key account with a long history (the 360 page's worst case).
KEY_ACCOUNT_EVERY = 250


class Weighted:
    """A weighted choice that draws one number from the seeded generator."""

    def __init__(self, items, weights):
        self.items = tuple(items)
        self.cumulative = list(accumulate(weights))

    def pick(self, rng: random.Random):
        return self.items[bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


@dataclass
class Drafted:
    """A customer row before it is written, with what its contacts and history are built from."""

    customer: dict
    chinese: bool
    domain: str
    phone_pattern: str
    key_account: bool
    tag_ids: list[int] = field(default_factory=list)


class DemoSeeder:
    """Builds the demo customers and their history from one seeded random generator."""

    def __init__(self, *, rng: random.Random, users: dict, tags: dict, first_number: int, now: datetime.datetime):
        self.rng = rng
        self.users = users
        self.tag_ids = [tags[name] for name in data.TAGS]
        self.key_account_tag = tags["Key account"]
        self.first_number = first_number
        self.now = now
        self.today = timezone.localdate(now)
        self.reps = [users[name] for name in data.SALES_REPS]
        self.customer_ids: list[int] = []
        self.writers = {
            "customers": TableWriter(Customer, with_ids=True),
            "contacts": TableWriter(Contact, with_ids=True),
            "interactions": TableWriter(Interaction, with_ids=False),
            "tasks": TableWriter(Task, with_ids=False),
            "tags": TableWriter(Customer.tags.through, with_ids=False),
        }
        self.used_phones: set[str] = set()
        self.used_emails: set[str] = set()
        self.used_names: set[str] = set()
        self.duplicates = 0
        self.surnames = Weighted([(s, p) for s, p, _w in data.SURNAMES], [w for *_x, w in data.SURNAMES])
        self.provinces = Weighted([(p, c) for p, _w, c in data.PROVINCES], [w for _p, w, _c in data.PROVINCES])
        self.industries = Weighted(data.INDUSTRY_WEIGHTS, data.INDUSTRY_WEIGHTS.values())
        self.legal_forms = Weighted(*zip(*data.CHINESE_LEGAL_FORMS, strict=True))
        self.mail_domains = Weighted(*zip(*data.PERSONAL_MAIL_DOMAINS, strict=True))
        self.owners = Weighted([*self.reps, None], [46, 46, 8])
        self.org_categories = Weighted(
            [Customer.Category.GROUP_BUYER, Customer.Category.CHANNEL, Customer.Category.CONSUMER,
             Customer.Category.PUBLIC_BODY, Customer.Category.INTERNAL],
            [45, 33, 12, 8, 2],
        )  # fmt: skip
        self.levels = Weighted(Customer.RelationshipLevel.values, [60, 22, 12, 6])
        self.sources = Weighted(
            [Customer.Source.REFERRAL, Customer.Source.WEBSITE, Customer.Source.ADVERTISING,
             Customer.Source.EXHIBITION, Customer.Source.COLD_CALL, Customer.Source.CAMPAIGN,
             Customer.Source.PARTNER, Customer.Source.WALK_IN, Customer.Source.OTHER, ""],
            [14, 18, 8, 12, 12, 8, 6, 8, 4, 10],
        )  # fmt: skip
        self.consent_channels = Weighted(Customer.ConsentChannel.values, [25, 20, 10, 25, 10, 10])
        self.interaction_kinds = Weighted(Interaction.Kind.values, [12, 35, 22, 21, 10])
        self.interaction_counts = Weighted(range(9), [14, 15, 15, 14, 12, 10, 8, 7, 5])
        self.tag_counts = Weighted(range(4), [45, 30, 17, 8])

    # Building blocks -----------------------------------------------------------------------

    def chinese_person(self):
        """A Chinese name and its pinyin: ('王芳', 'fang', 'wang')."""
        surname, surname_pinyin = self.surnames.pick(self.rng)
        given = [self.rng.choice(data.GIVEN_NAME_CHARS) for _i in range(1 if self.rng.random() < 0.35 else 2)]
        return surname + "".join(c for c, _p in given), "".join(p for _c, p in given), surname_pinyin

    def english_person(self):
        first, last = self.rng.choice(data.ENGLISH_FIRST_NAMES), self.rng.choice(data.ENGLISH_LAST_NAMES)
        return f"{first} {last}", first.lower(), last.lower()

    def mobile(self) -> str:
        """An unused Chinese mobile number, written the ways people write them."""
        while True:
            digits = self.rng.choice(data.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if digits not in self.used_phones:
                break
        self.used_phones.add(digits)
        style = self.rng.random()
        if style < 0.75:
            return digits
        if style < 0.9:
            return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        return f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}"

    def overseas_phone(self, pattern: str) -> str:
        """An unused number in a country's written form, e.g. '+44 20 7946 0123'."""
        while True:
            phone = re.sub("#", lambda _m: str(self.rng.randrange(10)), pattern)
            if normalize_phone(phone) not in self.used_phones:
                break
        self.used_phones.add(normalize_phone(phone))
        return phone

    def phone_for(self, phone_pattern: str) -> str:
        return self.overseas_phone(phone_pattern) if phone_pattern else self.mobile()

    def email(self, local: str, domain: str) -> str:
        """A lower-case address not used yet by another demo customer or contact."""
        local = re.sub(r"[^a-z0-9.]", "", local.lower()) or "info"
        address, n = f"{local}@{domain}", 1
        while address in self.used_emails:
            n += 1
            address = f"{local}{n}@{domain}"
        self.used_emails.add(address)
        return normalize_email(address)

    def unique_name(self, make) -> tuple[str, str]:
        """A (company name, web name) from `make()`, retried so that names rarely repeat by chance."""
        for _attempt in range(6):
            name, web_name = make()
            if name not in self.used_names:
                break
        self.used_names.add(name)
        return name, web_name

    def moment_between(self, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
        span = max((end - start).total_seconds(), 0)
        return start + datetime.timedelta(seconds=int(self.rng.random() * span))

    # Customers -----------------------------------------------------------------------------

    def place(self, chinese: bool):
        """(region, city, city pinyin or web top-level domain, phone pattern or "" for China) for a customer."""
        if chinese or self.rng.random() < 0.5:
            province, cities = self.provinces.pick(self.rng)
            city, city_pinyin = self.rng.choice(cities)
            return province, city, city_pinyin, ""
        region, city, tld, phone_pattern = self.rng.choice(data.OVERSEAS)
        return region, city, tld, phone_pattern

    def draft_customer(self, index: int, pk: int, created_at: datetime.datetime) -> Drafted:
        rng = self.rng
        chinese = rng.random() < 0.78
        individual = rng.random() < 0.45
        region, city, city_code, phone_pattern = self.place(chinese)
        overseas = bool(phone_pattern)
        industry = "" if individual else self.industries.pick(rng)
        if individual:
            name, given, family = self.chinese_person() if chinese else self.english_person()
            if chinese and rng.random() < 0.3:
                email = self.email(str(rng.randrange(10**5, 10**10)), "qq.com")
            else:
                email = self.email(f"{given}.{family}{rng.randrange(100)}", self.mail_domains.pick(rng))
            domain = ""
            category = Customer.Category.CONSUMER if rng.random() < 0.9 else Customer.Category.GROUP_BUYER
        elif chinese:
            zh_words = data.INDUSTRY_WORDS[industry][0]

            def make():
                first, second = rng.choice(data.BRAND_FIRST), rng.choice(data.BRAND_SECOND)
                brand, pinyin = first[0] + second[0], first[1] + second[1]
                if industry == "government":
                    return f"{city}市{brand}{zh_words[0]}", pinyin
                return f"{city}市{brand}{rng.choice(zh_words)}{self.legal_forms.pick(rng)}", pinyin

            name, pinyin = self.unique_name(make)
            domain = f"{pinyin}.{city_code}" if overseas else f"{pinyin}{city_code}.com.cn"
            email = self.email(rng.choice(("sales", "info", "service", "purchasing", "contact")), domain)
            category = self.org_categories.pick(rng)
        else:
            en_words = data.INDUSTRY_WORDS[industry][1]

            def make():
                brand = rng.choice(data.ENGLISH_BRAND_WORDS)
                return f"{brand} {rng.choice(en_words)} {rng.choice(data.ENGLISH_LEGAL_FORMS)}", brand.lower()

            name, web_name = self.unique_name(make)
            domain = f"{web_name}-{industry}.{city_code if overseas else 'com'}"
            email = self.email(rng.choice(("sales", "info", "hello", "office")), domain)
            category = self.org_categories.pick(rng)
        if rng.random() < 0.12:
            email = ""
        phone = "" if rng.random() < 0.04 else self.phone_for(phone_pattern)
        key_account = index % KEY_ACCOUNT_EVERY == KEY_ACCOUNT_EVERY // 2
        owner = self.reps[index % 2] if key_account else self.owners.pick(rng)
        owner_id = owner.pk if owner else None
        source = self.sources.pick(rng)
        referred_by_id = None
        if source == Customer.Source.REFERRAL:
            if index > 0:
                referred_by_id = self.customer_ids[rng.randrange(index)]
            else:
                source = Customer.Source.WEBSITE
        consent = rng.random() < 0.45
        notes = rng.choice(data.CUSTOMER_NOTES_ZH if chinese else data.CUSTOMER_NOTES_EN)
        address = ""
        if not individual or rng.random() < 0.3:
            if overseas:
                address = f"{rng.randrange(1, 300)} {rng.choice(data.ENGLISH_STREETS)}, {city}"
            else:
                address = f"{city}市{rng.choice(data.DISTRICTS)}{rng.choice(data.STREETS)}{rng.randrange(1, 999)}号"
        customer = {
            "id": pk,
            "external_ref": f"C{self.first_number + index:06d}",
            "kind": Customer.Kind.INDIVIDUAL if individual else Customer.Kind.ORGANISATION,
            "name": name,
            "phone": phone,
            "phone_digits": normalize_phone(phone),
            "email": email,
            "region": region,
            "city": city,
            "address": address,
            "industry": industry,
            "owner_id": owner_id,
            "category": category,
            "relationship_level": Customer.RelationshipLevel.STRATEGIC_ALLIANCE
            if key_account
            else self.levels.pick(rng),
            "source": source,
            "referred_by_id": referred_by_id,
            "marketing_consent": consent,
            "consent_at": self.moment_between(created_at, min(created_at + datetime.timedelta(days=30), self.now))
            if consent
            else None,
            "consent_channel": self.consent_channels.pick(rng) if consent else "",
            "birthday": self.birthday() if individual and rng.random() < 0.7 else None,
            "anniversary": (created_at + datetime.timedelta(days=rng.randrange(0, 60))).date()
            if not individual and rng.random() < 0.3
            else None,
            "notes": notes,
            "created_at": created_at,
            "updated_at": created_at if rng.random() < 0.4 else self.moment_between(created_at, self.now),
            "created_by_id": owner_id,
        }
        customer["search_text"] = search_text(name, email, customer["external_ref"], customer["phone_digits"])
        drafted = Drafted(customer, chinese, domain, phone_pattern, key_account)
        tag_ids = rng.sample(self.tag_ids, self.tag_counts.pick(rng))
        if key_account and self.key_account_tag not in tag_ids:
            tag_ids.append(self.key_account_tag)
        drafted.tag_ids = tag_ids
        return drafted

    def birthday(self) -> datetime.date:
        return datetime.date(1955, 1, 1) + datetime.timedelta(days=self.rng.randrange(48 * 365))

    def draft_duplicate(self, original: Drafted, index: int, pk: int, created_at: datetime.datetime) -> Drafted:
        """A second record of `original` as a colleague might have typed it: a likely duplicate."""
        source = original.customer
        name = source["name"]
        for form, _weight in sorted(data.CHINESE_LEGAL_FORMS, key=lambda f: -len(f[0])):
            if name.endswith(form):
                name = name[: -len(form)]
                break
        else:
            for form in data.ENGLISH_LEGAL_FORMS:
                if name.endswith(" " + form):
                    name = name[: -len(form) - 1]
                    break
        digits = source["phone_digits"]
        if digits and len(digits) == 11:
            phone = f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}" if source["phone"] == digits else digits
        else:
            phone = source["phone"]
        owner_id = self.rng.choice([rep.pk for rep in self.reps if rep.pk != source["owner_id"]])
        customer = {
            "id": pk,
            "external_ref": f"C{self.first_number + index:06d}",
            "kind": source["kind"],
            "name": name,
            "phone": phone,
            "phone_digits": normalize_phone(phone),
            "email": source["email"] if self.rng.random() < 0.5 else "",
            "region": source["region"],
            "city": source["city"],
            "industry": source["industry"],
            "owner_id": owner_id,
            "category": source["category"],
            "source": Customer.Source.OTHER,
            "created_at": created_at,
            "updated_at": created_at,
            "created_by_id": owner_id,
        }
        customer["search_text"] = search_text(
            name, customer["email"], customer["external_ref"], customer["phone_digits"]
        )
        self.duplicates += 1
        return Drafted(customer, original.chinese, original.domain, original.phone_pattern, False)

    # Related rows --------------------------------------------------------------------------

    def draft_contacts(self, drafted: Drafted) -> list[dict]:
        customer = drafted.customer
        if customer["kind"] != Customer.Kind.ORGANISATION or not drafted.domain:
            return []
        contacts = []
        for position in range(self.rng.randint(1, 3)):
            if drafted.chinese:
                name, given, family = self.chinese_person()
                title = self.rng.choice(data.CONTACT_TITLES_ZH)
            else:
                name, given, family = self.english_person()
                title = self.rng.choice(data.CONTACT_TITLES_EN)
            phone = self.phone_for(drafted.phone_pattern)
            contacts.append(
                {
                    "customer_id": customer["id"],
                    "name": name,
                    "title": title,
                    "phone": phone,
                    "phone_digits": normalize_phone(phone),
                    "email": self.email(f"{given}.{family}", drafted.domain),
                    "is_primary": position == 0,
                    "created_at": customer["created_at"],
                }
            )
            contacts[-1]["search_text"] = search_text(name, contacts[-1]["email"], contacts[-1]["phone_digits"])
        return contacts

    def draft_interactions(self, drafted: Drafted, contacts: list[dict]) -> list[dict]:
        rng = self.rng
        customer = drafted.customer
        count = rng.randint(20, 60) if drafted.key_account else self.interaction_counts.pick(rng)
        # Pool customers keep the history their former owner logged.
        actor_id = customer["owner_id"] or self.rng.choice(self.reps).pk
        end = self.now - datetime.timedelta(hours=1)
        interactions = []
        for _n in range(count):
            kind = self.interaction_kinds.pick(rng)
            subjects_zh, subjects_en = data.INTERACTION_SUBJECTS[kind]
            when = self.moment_between(customer["created_at"], end)
            interactions.append(
                {
                    "customer_id": customer["id"],
                    "contact_id": rng.choice(contacts)["id"] if contacts and rng.random() < 0.7 else None,
                    "kind": kind,
                    "occurred_at": when,
                    "actor_id": actor_id,
                    "subject": rng.choice(subjects_zh if drafted.chinese else subjects_en),
                    "outcome": rng.choice(
                        data.INTERACTION_OUTCOMES_ZH if drafted.chinese else data.INTERACTION_OUTCOMES_EN
                    ),
                    "created_at": when,
                }
            )
        return interactions

    def task(self, *, owner_id: int, title: str, customer_id: int | None, state: float) -> dict:
        """A task that is overdue, due today, upcoming or done, by where `state` (0–1) falls."""
        rng = self.rng
        if state < 0.2:
            due, done = self.today - datetime.timedelta(days=rng.randint(1, 20)), False
        elif state < 0.3:
            due, done = self.today, False
        elif state < 0.65:
            due, done = self.today + datetime.timedelta(days=rng.randint(1, 30)), False
        else:
            due, done = self.today - datetime.timedelta(days=rng.randint(1, 90)), True
        done_at = None
        if done:
            done_at = min(
                timezone.make_aware(datetime.datetime.combine(due, datetime.time(17))), self.now
            ) - datetime.timedelta(hours=rng.randint(0, 48))
        return {
            "customer_id": customer_id,
            "owner_id": owner_id,
            "title": title,
            "due_date": due,
            "done": done,
            "done_at": done_at,
            "created_by_id": owner_id,
            "created_at": self.now - datetime.timedelta(days=rng.randint(1, 30) + max((self.today - due).days, 0)),
        }

    def draft_tasks(self, drafted: Drafted) -> list[dict]:
        customer = drafted.customer
        if customer["owner_id"] is None or self.rng.random() >= 0.2:
            return []
        titles = data.TASK_TITLES_ZH if drafted.chinese else data.TASK_TITLES_EN
        separator = "：" if drafted.chinese else ": "
        title = f"{self.rng.choice(titles)}{separator}{customer['name']}"[:200]
        return [
            self.task(owner_id=customer["owner_id"], title=title, customer_id=customer["id"], state=self.rng.random())
        ]

    def staff_tasks(self) -> list[dict]:
        """A few tasks for the demo users who own no customers, so their home page is not empty."""
        tasks = []
        for username, titles in data.STAFF_TASK_TITLES.items():
            for position, title in enumerate(titles):
                customer_id = self.rng.choice(self.customer_ids) if self.customer_ids else None
                state = (0.1, 0.25, 0.5, 0.9)[position % 4]
                tasks.append(
                    self.task(owner_id=self.users[username].pk, title=title, customer_id=customer_id, state=state)
                )
        return tasks

    # Writing -------------------------------------------------------------------------------

    def creation_times(self, count: int) -> list[datetime.datetime]:
        """When each customer was created, oldest first, so references grow with time."""
        offsets = sorted((self.rng.random() * HISTORY_DAYS * 86400 for _i in range(count)), reverse=True)
        return [self.now - datetime.timedelta(seconds=int(s) + 3600) for s in offsets]

    def duplicate_positions(self, count: int) -> set[int]:
        """Where in the run the deliberate likely duplicates go (never first in a chunk)."""
        wanted = max(3, min(12, count // 20)) if count >= 20 else 0
        candidates = [i for i in range(count) if i % CHUNK >= 5]
        return set(self.rng.sample(candidates, min(wanted, len(candidates))))

    def seed(self, count: int, *, with_staff_tasks: bool) -> dict:
        """Write `count` customers with their contacts, history, tags and tasks; return the counts."""
        created = self.creation_times(count)
        duplicates = self.duplicate_positions(count)
        writers = self.writers
        for start in range(0, count, CHUNK):
            indexes = range(start, min(start + CHUNK, count))
            self.customer_ids.extend(reserve_ids(Customer, len(indexes)))
            drafts = []
            for index in indexes:
                pk = self.customer_ids[index]
                if index in duplicates:
                    original = drafts[self.rng.randrange(len(drafts))]
                    drafts.append(self.draft_duplicate(original, index, pk, created[index]))
                else:
                    drafts.append(self.draft_customer(index, pk, created[index]))
            contacts = [self.draft_contacts(d) for d in drafts]
            flat_contacts = [c for rows in contacts for c in rows]
            for contact, pk in zip(flat_contacts, reserve_ids(Contact, len(flat_contacts)), strict=True):
                contact["id"] = pk
            interactions, tasks, tag_rows = [], [], []
            for drafted, its_contacts in zip(drafts, contacts, strict=True):
                interactions.extend(self.draft_interactions(drafted, its_contacts))
                tasks.extend(self.draft_tasks(drafted))
                tag_rows.extend({"customer_id": drafted.customer["id"], "tag_id": t} for t in drafted.tag_ids)
            writers["customers"].write([d.customer for d in drafts])
            writers["contacts"].write(flat_contacts)
            writers["interactions"].write(interactions)
            writers["tasks"].write(tasks)
            writers["tags"].write(tag_rows)
        if with_staff_tasks:
            writers["tasks"].write(self.staff_tasks())
        return {name: writer.written for name, writer in writers.items()} | {"duplicates": self.duplicates}


def ensure_demo_users() -> dict:
    """Create or reset the demo users, their role groups and the demo sales team; return them by username."""
    User = get_user_model()
    # One hash for all: the demo password is the same, and hashing is deliberately slow.
    password = make_password(data.DEMO_PASSWORD)
    groups = {}
    for _username, role_names, *_rest in data.DEMO_USERS:
        for role in role_names:
            groups[role] = groups.get(role) or Group.objects.get_or_create(name=role)[0]
    users = {}
    for username, role_names, chinese_name, english_name, is_admin in data.DEMO_USERS:
        user, _created = User.objects.get_or_create(username=username)
        # Django joins first and last name with a space: "张伟 Wei Zhang" reads well in both languages.
        user.first_name, user.last_name = chinese_name, english_name
        user.email = f"{username}@demo.example.com"
        user.is_active = True
        user.is_staff = user.is_superuser = is_admin
        user.password = password
        user.save()
        user.groups.set([groups[role] for role in role_names])
        users[username] = user
    team, _created = Team.objects.get_or_create(name=data.DEMO_TEAM)
    team.manager = users[data.DEMO_TEAM_MANAGER]
    team.save()
    team.members.set([users[name] for name in data.DEMO_TEAM_MEMBERS])
    return users


def ensure_tags() -> dict[str, int]:
    """The demo tags by name (created when missing); returns name → id."""
    existing = dict(Tag.objects.filter(name__in=data.TAGS).values_list("name", "pk"))
    Tag.objects.bulk_create([Tag(name=name) for name in data.TAGS if name not in existing])
    return dict(Tag.objects.filter(name__in=data.TAGS).values_list("name", "pk"))


def next_external_number() -> int:
    """The number after the highest demo-style external reference (C000123) in the database."""
    refs = Customer.objects.filter(external_ref__regex=r"^C[0-9]+$").values_list("external_ref", flat=True)
    return max((int(EXTERNAL_REF.match(ref).group(1)) for ref in refs.iterator(chunk_size=10000)), default=0) + 1


class Command(BaseCommand):
    help = "Create the demo users and realistic bilingual demo customers (deterministic for a --seed)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=200, help="How many customers to create (default 200).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed; the same seed gives the same data.")
        parser.add_argument(
            "--append",
            action="store_true",
            help="Add customers even though the database already has some (continues the C000123 numbering).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing, successfully, when the database already has customers (for `make run`).",
        )

    def handle(self, *, customers, seed, append, if_empty, verbosity, **options):
        if customers < 0:
            raise CommandError(_("--customers must be zero or more."))
        if if_empty and (existing := Customer.objects.count()):
            if verbosity:
                self.stdout.write(
                    _("The database already has %(count)d customers; no demo data added.") % {"count": existing}
                )
            return
        with transaction.atomic():
            users = ensure_demo_users()
        existing = Customer.objects.count()
        if existing and customers and not append:
            raise CommandError(
                _(
                    "The database already has %(count)d customers, so no demo customers were added "
                    "(the demo users and their password were reset). Run again with --append to add "
                    "%(wanted)d more."
                )
                % {"count": existing, "wanted": customers}
            )
        started = time.perf_counter()
        with transaction.atomic():
            first_number = next_external_number()
            # Appending with the same seed must not repeat the first run's names and phones.
            rng = random.Random(seed) if first_number == 1 else random.Random(f"{seed}/{first_number}")
            seeder = DemoSeeder(rng=rng, users=users, tags=ensure_tags(), first_number=first_number, now=timezone.now())
            counts = seeder.seed(customers, with_staff_tasks=not existing)
            other_counts = demo_steps.run_all(
                seed=f"{seed}/{first_number}",
                users=users,
                customer_ids=seeder.customer_ids,
                now=seeder.now,
                first_run=not existing,
            )
        elapsed = time.perf_counter() - started
        if verbosity:
            self.report(counts, other_counts, elapsed, users)

    def report(self, counts: dict, other_counts: dict, elapsed: float, users: dict):
        rate = counts["customers"] / elapsed if elapsed > 0 else 0
        self.stdout.write(
            _(
                "Created %(customers)d customers (%(duplicates)d deliberate likely duplicates), %(contacts)d contacts, "
                "%(interactions)d interactions, %(tasks)d tasks and %(tags)d tag links in %(seconds).1f s "
                "(%(rate)d customers/second)."
            )
            % {**counts, "seconds": elapsed, "rate": rate}
        )
        if other_counts:
            self.stdout.write(
                _("Also created: %(counts)s.")
                % {"counts": ", ".join(f"{number} {name}" for name, number in other_counts.items())}
            )
        self.stdout.write(_("Demo logins (password for all: %(password)s):") % {"password": data.DEMO_PASSWORD})
        for username, role_names, *_rest in data.DEMO_USERS:
            user = users[username]
            self.stdout.write(f"  {username:<11} {user.get_full_name():<18} {', '.join(role_names)}")
        self.stdout.write(
            _("Team “%(team)s”: %(manager)s manages %(members)s.")
            % {"team": data.DEMO_TEAM, "manager": data.DEMO_TEAM_MANAGER, "members": ", ".join(data.DEMO_TEAM_MEMBERS)}
        )
