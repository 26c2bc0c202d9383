"""Sales demo data for `seed_demo`: products, order histories, leads, opportunities, targets.

`register_demo()` adds the step to `customers.demo_steps` (called from SalesConfig.ready). The
step only reads the customers it is given and writes plain rows with `customers.bulk`, chunk by
chunk, so 100,000 customers get their ~1,000,000 order lines without a query per row, and the
same seed gives the same orders, amounts and totals.
"""

import datetime
from bisect import bisect_right
from decimal import Decimal
from itertools import accumulate

from django.contrib.auth import get_user_model
from django.utils import timezone

from customers import demo_data
from customers.bulk import TableWriter, reserve_ids
from customers.demo_steps import DemoContext, DemoStep, register
from customers.models import Customer

from .importing import ORDER_PREFIX, order_moment, reserve_numbers
from .models import (
    Lead,
    Opportunity,
    OpportunityLine,
    Order,
    OrderLine,
    Pipeline,
    PoolRule,
    Product,
    SalesTarget,
    StageChange,
)

# Customers whose orders are generated and written per round.
CHUNK = 5000
HISTORY_DAYS = 3 * 365

# SKU, Chinese name, English name, category, unit price (yuan), cost as a share of the price.
PRODUCTS = (
    ("FUR-CHAIR-01", "人体工学办公椅", "Ergonomic office chair", "furniture", 1280, 0.52),
    ("FUR-CHAIR-02", "会议椅", "Meeting room chair", "furniture", 460, 0.55),
    ("FUR-DESK-01", "升降办公桌", "Standing desk", "furniture", 2680, 0.5),
    ("FUR-DESK-02", "双人工位桌", "Twin workstation", "furniture", 1880, 0.56),
    ("FUR-CAB-01", "文件柜", "Filing cabinet", "furniture", 890, 0.6),
    ("FUR-SOFA-01", "接待沙发", "Reception sofa", "furniture", 4200, 0.48),
    ("IT-LAP-14", "14英寸商务笔记本", "14-inch business laptop", "it", 6499, 0.82),
    ("IT-LAP-16", "16英寸工作站笔记本", "16-inch workstation laptop", "it", 12999, 0.8),
    ("IT-MON-27", "27英寸显示器", "27-inch monitor", "it", 1699, 0.78),
    ("IT-DOCK-01", "扩展坞", "Docking station", "it", 899, 0.66),
    ("IT-KB-01", "无线键鼠套装", "Wireless keyboard and mouse", "it", 299, 0.6),
    ("IT-HS-01", "降噪耳机", "Noise-cancelling headset", "it", 799, 0.62),
    ("IT-SRV-01", "机架式服务器", "Rack server", "it", 38000, 0.76),
    ("IT-NAS-01", "网络存储", "Network storage (NAS)", "it", 5600, 0.7),
    ("NET-SW-24", "24口交换机", "24-port switch", "network", 2300, 0.68),
    ("NET-AP-01", "无线接入点", "Wi-Fi access point", "network", 980, 0.6),
    ("NET-FW-01", "防火墙", "Firewall appliance", "network", 8800, 0.62),
    ("NET-CAB-01", "网络布线(每点)", "Network cabling (per point)", "network", 260, 0.45),
    ("PRT-LAS-01", "激光打印机", "Laser printer", "printing", 2199, 0.72),
    ("PRT-MFP-01", "多功能复印机", "Multifunction copier", "printing", 15800, 0.7),
    ("PRT-TON-01", "硒鼓", "Toner cartridge", "printing", 420, 0.4),
    ("PRT-PAP-01", "A4复印纸(箱)", "A4 paper (box)", "supplies", 168, 0.7),
    ("SUP-PEN-01", "中性笔(盒)", "Gel pens (box)", "supplies", 36, 0.45),
    ("SUP-NOTE-01", "笔记本(10本)", "Notebooks (pack of 10)", "supplies", 89, 0.5),
    ("SUP-BIN-01", "文件夹(20个)", "Folders (pack of 20)", "supplies", 58, 0.48),
    ("SUP-COF-01", "咖啡豆(1kg)", "Coffee beans (1 kg)", "supplies", 198, 0.55),
    ("SUP-WAT-01", "桶装水(月度)", "Drinking water (monthly)", "supplies", 320, 0.5),
    ("SW-OFF-01", "办公套件年订阅", "Office suite, yearly licence", "software", 1200, 0.35),
    ("SW-CRM-01", "客户管理系统年费", "CRM, yearly subscription", "software", 9800, 0.2),
    ("SW-ERP-01", "进销存系统", "Inventory and ERP system", "software", 26000, 0.25),
    ("SW-AV-01", "终端安全软件", "Endpoint security", "software", 260, 0.3),
    ("SW-BAK-01", "云备份(1TB/年)", "Cloud backup (1 TB per year)", "software", 1500, 0.4),
    ("SVC-INST-01", "上门安装服务", "On-site installation", "services", 800, 0.3),
    ("SVC-MAINT-01", "年度维保服务", "Annual maintenance contract", "services", 6800, 0.35),
    ("SVC-TRAIN-01", "员工培训(天)", "Staff training (day)", "services", 3500, 0.4),
    ("SVC-CONS-01", "信息化咨询(天)", "IT consulting (day)", "services", 5200, 0.38),
    ("SVC-MOVE-01", "办公室搬迁服务", "Office move service", "services", 12000, 0.55),
    ("SEC-CAM-01", "网络摄像机", "IP camera", "security", 680, 0.58),
    ("SEC-ACC-01", "门禁系统", "Access control system", "security", 7600, 0.6),
    ("SEC-NVR-01", "网络录像机", "Network video recorder", "security", 2400, 0.62),
)
CATEGORIES = {
    "furniture": "办公家具 Office furniture",
    "it": "IT设备 IT equipment",
    "network": "网络设备 Networking",
    "printing": "打印设备 Printing",
    "supplies": "办公用品 Office supplies",
    "software": "软件 Software",
    "services": "服务 Services",
    "security": "安防 Security",
}
# How much of the year's business each month gets: slow around the Spring Festival and the
# October holiday, busy for 618 (June) and Double 11 (November) and before the year closes.
SEASON = {1: 1.0, 2: 0.55, 3: 1.1, 4: 1.0, 5: 1.0, 6: 1.25, 7: 0.9, 8: 0.9, 9: 1.1, 10: 0.75, 11: 1.45, 12: 1.3}
_SEASON_MAX = max(SEASON.values())
# Orders over three years for an ordinary customer (before scaling by how long they have been one).
ORDER_COUNTS = range(16)
ORDER_COUNT_WEIGHTS = (10, 10, 10, 10, 9, 9, 8, 7, 6, 5, 5, 4, 3, 2, 1, 1)
LINE_COUNT_WEIGHTS = (35, 30, 20, 15)  # 1–4 lines
DISCOUNTS = (100, 100, 100, 100, 98, 95, 95, 90, 85)  # percent of the list price
BIG_ACCOUNT_SHARE = 0.004
CANCELLED_SHARE = 0.05

LEAD_STATUSES = (
    (Lead.Status.NEW, 25),
    (Lead.Status.CONTACTED, 20),
    (Lead.Status.QUALIFIED, 15),
    (Lead.Status.CONVERTED, 25),
    (Lead.Status.DISQUALIFIED, 15),
)
LEAD_SOURCES = (
    (Customer.Source.WEBSITE, 30),
    (Customer.Source.REFERRAL, 20),
    (Customer.Source.EXHIBITION, 15),
    (Customer.Source.COLD_CALL, 10),
    (Customer.Source.ADVERTISING, 10),
    (Customer.Source.CAMPAIGN, 10),
    (Customer.Source.PARTNER, 5),
)
LEAD_MESSAGES = (
    "想了解办公家具整体采购方案，大约50个工位。",
    "需要一套适合中小企业的客户管理系统，请报价。",
    "We are opening a new office in Shanghai and need IT equipment for 30 people.",
    "请安排销售联系，询问打印机租赁方案。",
    "Looking for an annual maintenance contract for our servers.",
    "朋友推荐，想了解门禁和监控系统。",
    "",
)
DISQUALIFY_REASONS = ("预算不足", "No budget this year", "只是比价", "Duplicate of an existing customer", "联系不上")
JOB_TITLES = ("采购经理", "行政主管", "IT经理", "总经理", "Office manager", "Procurement lead", "财务总监")
LOST_REASONS = ("价格高于竞争对手", "Lost on price", "项目取消", "Chose the incumbent supplier", "交期太长")
COMPETITORS = ("", "", "", "联想", "Dell", "得力", "震旦", "Steelcase", "用友", "Salesforce")
NEXT_STEPS = ("发送报价单", "Book a demo", "安排现场勘察", "Send the revised proposal", "约采购负责人见面")


class Weighted:
    """A weighted choice drawing one number from the step's generator."""

    def __init__(self, pairs):
        pairs = list(pairs)
        self.items = [item for item, _weight in pairs]
        self.cumulative = list(accumulate(weight for _item, weight in pairs))

    def pick(self, rng):
        return self.items[bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def register_demo() -> None:
    """Add the sales step to seed_demo (runs right after the customers are written)."""
    register(DemoStep(key="sales", run=run_demo, order=10))


def run_demo(ctx: DemoContext) -> dict:
    """Products, orders with lines, leads, opportunities with stage history and sales targets."""
    counts = {}
    products = ensure_products(ctx, counts)
    counts |= SalesDemo(ctx, products).run()
    if ctx.first_run:
        demo_pool_rule()
    return counts


def demo_pool_rule() -> None:
    """A pool rule that suits the demo history: the demo's interactions go back three years, so the
    default days would send most demo customers to the pool on the first night (measured: 216 of 400)."""
    PoolRule.objects.update_or_create(
        pk=1, defaults={"days_vip": 730, "days_key": 540, "days_ordinary": 365, "days_small": 365, "days_ungraded": 365}
    )


def ensure_products(ctx: DemoContext, counts: dict) -> list[dict]:
    """The demo catalogue (created when missing); active products as plain dicts, by SKU."""
    existing = set(Product.objects.filter(sku__in=[p[0] for p in PRODUCTS]).values_list("sku", flat=True))
    if ctx.first_run or not existing:
        new = [
            Product(
                sku=sku,
                name=f"{zh} {en}",
                category=CATEGORIES[category],
                unit_price=Decimal(price),
                unit_cost=(Decimal(price) * Decimal(str(cost_share))).quantize(Decimal("0.01")),
            )
            for sku, zh, en, category, price, cost_share in PRODUCTS
            if sku not in existing
        ]
        Product.objects.bulk_create(new)
        counts["products"] = len(new)
    return [
        {"id": pk, "sku": sku, "name": name, "price": int(price * 100), "cost": int(cost * 100)}
        for pk, sku, name, price, cost in Product.objects.active()
        .order_by("sku")
        .values_list("pk", "sku", "name", "unit_price", "unit_cost")
    ]


class SalesDemo:
    """Everything after the catalogue, from the step's one generator."""

    def __init__(self, ctx: DemoContext, products: list[dict]):
        self.ctx = ctx
        self.rng = ctx.rng
        self.products = products
        self.today = timezone.localdate(ctx.now)
        # Popular products sell more: a long tail over the catalogue in SKU order, shuffled once.
        popularity = list(range(len(products)))
        self.rng.shuffle(popularity)
        self.product_pick = Weighted([(p, 1 / (rank + 1) ** 0.8) for p, rank in zip(products, popularity, strict=True)])
        self.order_counts = Weighted(zip(ORDER_COUNTS, ORDER_COUNT_WEIGHTS, strict=True))
        self.line_counts = Weighted(zip(range(1, 5), LINE_COUNT_WEIGHTS, strict=True))
        # Booked amount per (rep id, first of month), for targets that are within reach.
        self.booked: dict[tuple[int, datetime.date], int] = {}

    def run(self) -> dict:
        counts = {"orders": 0, "order lines": 0}
        if self.products:
            ids = self.ctx.customer_ids
            for start in range(0, len(ids), CHUNK):
                orders, lines = self.write_orders(ids[start : start + CHUNK])
                counts["orders"] += orders
                counts["order lines"] += lines
        counts["leads"] = self.write_leads()
        counts["opportunities"], counts["stage changes"] = self.write_opportunities()
        counts["sales targets"] = self.write_targets()
        return counts

    # Orders ------------------------------------------------------------------------------------

    def customers(self, ids: list[int]) -> list[tuple]:
        """The chunk's customers by id; a range, not a list of 5,000 parameters (SQLite limits those)."""
        wanted = set(ids)
        rows = Customer.objects.filter(pk__gte=min(ids), pk__lte=max(ids)).values_list(
            "pk", "owner_id", "created_at", "relationship_level"
        )
        return sorted(row for row in rows if row[0] in wanted)

    def write_orders(self, ids: list[int]) -> tuple[int, int]:
        rng = self.rng
        drafts = []  # (customer id, owner id, day, status, lines)
        for pk, owner_id, created_at, level in self.customers(ids):
            start = max(timezone.localdate(created_at), self.today - datetime.timedelta(days=HISTORY_DAYS))
            span = (self.today - start).days
            if span < 0:
                continue
            strategic = level == Customer.RelationshipLevel.STRATEGIC_ALLIANCE
            if rng.random() < BIG_ACCOUNT_SHARE:
                count, size = rng.randrange(60, 150), 4
            else:
                count = self.order_counts.pick(rng)
                # Newer customers have had less time to buy; strategic partners buy more, in bulk.
                count = round(count * (0.5 + 0.5 * span / HISTORY_DAYS) * (2 if strategic else 1))
                size = 3 if strategic else 1
            favourites = [self.product_pick.pick(rng) for _i in range(rng.randrange(2, 6))]
            for _order in range(count):
                day = self.order_day(start, span)
                drafts.append((pk, owner_id, day, self.order_status(day), self.order_lines(favourites, size)))
        if not drafts:
            return 0, 0
        order_ids = reserve_ids(Order, len(drafts))
        numbers = reserve_numbers(ORDER_PREFIX, [draft[2].year for draft in drafts])
        order_rows, line_rows = [], []
        for pk, number, (customer_id, owner_id, day, status, lines) in zip(order_ids, numbers, drafts, strict=True):
            amount = sum(line["amount"] for line in lines)
            cost = sum(line["cost"] for line in lines)
            moment = min(order_moment(day), self.ctx.now)
            order_rows.append(
                {
                    "id": pk,
                    "number": number,
                    "customer_id": customer_id,
                    "owner_id": owner_id,
                    "status": status,
                    "ordered_at": day,
                    "confirmed_at": moment if status in (Order.Status.CONFIRMED, Order.Status.DELIVERED) else None,
                    "delivered_at": moment + datetime.timedelta(days=3) if status == Order.Status.DELIVERED else None,
                    "cancelled_at": moment if status == Order.Status.CANCELLED else None,
                    "amount": _money(amount),
                    "cost": _money(cost),
                    "created_at": moment,
                    "updated_at": moment,
                    "created_by_id": owner_id,
                }
            )
            for line in lines:
                line_rows.append(
                    {**line, "order_id": pk, "amount": _money(line["amount"]), "cost": _money(line["cost"])}
                )
            if owner_id and status != Order.Status.CANCELLED:
                month = day.replace(day=1)
                self.booked[owner_id, month] = self.booked.get((owner_id, month), 0) + amount
        TableWriter(Order, with_ids=True).write(order_rows)
        TableWriter(OrderLine, with_ids=False).write(line_rows)
        return len(order_rows), len(line_rows)

    def order_day(self, start: datetime.date, span: int) -> datetime.date:
        """A day in [start, today], busier months more likely (rejection sampling)."""
        rng = self.rng
        while True:
            day = start + datetime.timedelta(days=rng.randrange(span + 1))
            if rng.random() * _SEASON_MAX < SEASON[day.month]:
                return day

    def order_status(self, day: datetime.date) -> str:
        rng = self.rng
        if rng.random() < CANCELLED_SHARE:
            return Order.Status.CANCELLED
        age = (self.today - day).days
        if age <= 7:
            return Order.Status.DRAFT if rng.random() < 0.4 else Order.Status.CONFIRMED
        if age <= 30:
            return Order.Status.CONFIRMED if rng.random() < 0.6 else Order.Status.DELIVERED
        return Order.Status.DELIVERED

    def order_lines(self, favourites: list[dict], size: int) -> list[dict]:
        rng = self.rng
        lines = []
        for _line in range(self.line_counts.pick(rng)):
            product = rng.choice(favourites) if rng.random() < 0.7 else self.product_pick.pick(rng)
            quantity = rng.randrange(1, 6) * (rng.randrange(1, 6) if size > 1 else 1)
            price = product["price"] * rng.choice(DISCOUNTS) // 100
            lines.append(
                {
                    "product_id": product["id"],
                    "description": product["name"],
                    "quantity": quantity,
                    "unit_price": _money(price),
                    "unit_cost": _money(product["cost"]),
                    "amount": price * quantity,
                    "cost": product["cost"] * quantity,
                }
            )
        return lines

    # Leads -------------------------------------------------------------------------------------

    def write_leads(self) -> int:
        rng, ids = self.rng, self.ctx.customer_ids
        count = len(ids) // 10
        if not count:
            return 0
        reps = [self.ctx.users[name].pk for name in demo_data.SALES_REPS if name in self.ctx.users] or [None]
        statuses, sources = Weighted(LEAD_STATUSES), Weighted(LEAD_SOURCES)
        provinces = [province for province, _weight, _cities in demo_data.PROVINCES]
        rows = []
        for n in range(count):
            surname = rng.choice(demo_data.SURNAMES)[0]
            given = "".join(rng.choice(demo_data.GIVEN_NAME_CHARS)[0] for _i in range(rng.randrange(1, 3)))
            industry = rng.choice(list(demo_data.INDUSTRY_WORDS))
            brand = rng.choice(demo_data.BRAND_FIRST)[0] + rng.choice(demo_data.BRAND_SECOND)[0]
            company = (
                f"{brand}{rng.choice(demo_data.INDUSTRY_WORDS[industry][0])}有限公司" if rng.random() < 0.8 else ""
            )
            source = sources.pick(rng)
            # The first leads take each status in turn, so the demo shows every one whatever the seed.
            status = LEAD_STATUSES[n][0] if n < len(LEAD_STATUSES) else statuses.pick(rng)
            created = self.ctx.now - datetime.timedelta(seconds=rng.randrange(365 * 86400))
            web = source == Customer.Source.WEBSITE and rng.random() < 0.7
            owner = None if (web and rng.random() < 0.3) or rng.random() < 0.08 else rng.choice(reps)
            converted = status == Lead.Status.CONVERTED
            rows.append(
                {
                    "name": surname + given,
                    "company": company,
                    "job_title": rng.choice(JOB_TITLES) if company else "",
                    "phone": f"1{rng.choice((3, 5, 7, 8, 9))}{rng.randrange(10**9):09d}",
                    "email": f"lead{rng.randrange(10**7)}@example.cn" if rng.random() < 0.6 else "",
                    "region": rng.choice(provinces),
                    "message": rng.choice(LEAD_MESSAGES) if web or rng.random() < 0.3 else "",
                    "source": source,
                    "referred_by_id": rng.choice(ids) if source == Customer.Source.REFERRAL else None,
                    "status": status,
                    "owner_id": owner if owner or status in (Lead.Status.NEW, Lead.Status.DISQUALIFIED) else reps[0],
                    "score": rng.randrange(0, 101, 5),
                    "marketing_consent": rng.random() < 0.4,
                    "from_web_form": web,
                    "disqualify_reason": rng.choice(DISQUALIFY_REASONS) if status == Lead.Status.DISQUALIFIED else "",
                    "customer_id": rng.choice(ids) if converted else None,
                    "converted_at": created + datetime.timedelta(days=rng.randrange(1, 30)) if converted else None,
                    "created_at": created,
                    "updated_at": created,
                    "created_by_id": None if web else owner,
                }
            )
        for row in rows:
            if row["converted_at"] and row["converted_at"] > self.ctx.now:
                row["converted_at"] = self.ctx.now
        TableWriter(Lead, with_ids=False).write(rows)
        return len(rows)

    # Opportunities -----------------------------------------------------------------------------

    def write_opportunities(self) -> tuple[int, int]:
        rng, now = self.rng, self.ctx.now
        pipeline = Pipeline.objects.filter(is_default=True).first()
        ids = self.ctx.customer_ids
        if pipeline is None or not self.products or len(ids) < 8:
            return 0, 0
        stages = list(pipeline.stages.order_by("position", "pk"))
        open_stages = [stage for stage in stages if not stage.is_closed]
        won = next((stage for stage in stages if stage.is_won), None)
        lost = next((stage for stage in stages if stage.is_lost), None)
        picked = sorted(rng.sample(ids, len(ids) // 8))
        customers = {pk: (owner_id, name) for pk, owner_id, name in self.customer_names(picked)}
        drafts = []
        for customer_id in picked:
            owner_id, customer_name = customers.get(customer_id, (None, ""))
            if owner_id is None or not open_stages:
                continue
            created = now - datetime.timedelta(seconds=rng.randrange(540 * 86400))
            # How far it got: every opportunity starts at the first stage and moves on a stage at a time.
            reached = rng.randrange(len(open_stages))
            moment, path = created, [(None, open_stages[0], created)]
            for stage in open_stages[1 : reached + 1]:
                moment += datetime.timedelta(days=rng.randrange(3, 25), seconds=rng.randrange(86400))
                if moment > now:
                    break
                path.append((path[-1][1], stage, moment))
            closing = moment + datetime.timedelta(days=rng.randrange(3, 30))
            outcome = rng.random()
            if closing < now and won and lost and (outcome < 0.7 or (now - created).days > 200):
                path.append((path[-1][1], won if outcome < 0.45 + 0.1 * reached else lost, closing))
            drafts.append((customer_id, owner_id, customer_name, created, path))
        opportunity_ids = reserve_ids(Opportunity, len(drafts))
        rows, lines, changes = [], [], []
        for pk, (customer_id, owner_id, customer_name, created, path) in zip(opportunity_ids, drafts, strict=True):
            stage, closed_at = path[-1][1], path[-1][2] if path[-1][1].is_closed else None
            chosen = {}
            for _i in range(rng.randrange(1, 4)):
                product = self.product_pick.pick(rng)
                chosen[product["id"]] = product
            amount = 0
            for product in chosen.values():
                quantity = rng.randrange(1, 20)
                amount += product["price"] * quantity
                lines.append(
                    {
                        "opportunity_id": pk,
                        "product_id": product["id"],
                        "quantity": quantity,
                        "unit_price": _money(product["price"]),
                    }
                )
            first_product = next(iter(chosen.values()))
            rows.append(
                {
                    "id": pk,
                    "name": f"{customer_name[:60]} · {first_product['name'].split(' ')[0]}",
                    "customer_id": customer_id,
                    "owner_id": owner_id,
                    "pipeline_id": pipeline.pk,
                    "stage_id": stage.pk,
                    "amount": _money(amount),
                    "probability": stage.probability,
                    "expected_close": closed_at.date()
                    if closed_at
                    else self.today + datetime.timedelta(days=rng.randrange(7, 120)),
                    "next_step": "" if closed_at else rng.choice(NEXT_STEPS),
                    "competitor": rng.choice(COMPETITORS),
                    "lost_reason": rng.choice(LOST_REASONS) if stage.is_lost else "",
                    "closed_at": closed_at,
                    "created_at": created,
                    "updated_at": path[-1][2],
                    "created_by_id": owner_id,
                }
            )
            for from_stage, to_stage, at in path:
                changes.append(
                    {
                        "opportunity_id": pk,
                        "from_stage_id": from_stage.pk if from_stage else None,
                        "to_stage_id": to_stage.pk,
                        "changed_by_id": owner_id,
                        "changed_at": at,
                    }
                )
        TableWriter(Opportunity, with_ids=True).write(rows)
        TableWriter(OpportunityLine, with_ids=False).write(lines)
        TableWriter(StageChange, with_ids=False).write(changes)
        return len(rows), len(changes)

    def customer_names(self, ids: list[int]) -> list[tuple]:
        found, wanted = [], set(ids)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = Customer.objects.filter(pk__gte=chunk[0], pk__lte=chunk[-1]).values_list("pk", "owner_id", "name")
            found += [row for row in rows if row[0] in wanted]
        return found

    # Targets -----------------------------------------------------------------------------------

    def write_targets(self) -> int:
        """Monthly targets of the demo reps for the last 12 months, near what they booked."""
        User = get_user_model()
        reps = list(User.objects.filter(username__in=demo_data.SALES_REPS).order_by("username"))
        manager = User.objects.filter(username=demo_data.DEMO_TEAM_MANAGER).first()
        months = []
        month = self.today.replace(day=1)
        for _i in range(12):
            months.append(month)
            month = (month - datetime.timedelta(days=1)).replace(day=1)
        existing = set(SalesTarget.objects.filter(rep__in=reps, month__in=months).values_list("rep_id", "month"))
        if existing and not self.ctx.first_run:
            return 0
        targets = []
        for rep in reps:
            booked = [self.booked.get((rep.pk, month), 0) for month in months]
            average = sum(booked) / len(booked) if any(booked) else 20_000_000
            for month in sorted(months):
                if (rep.pk, month) in existing:
                    continue
                amount = int(average * self.rng.uniform(0.85, 1.25) / 100_000) * 1000 or 1000
                targets.append(
                    SalesTarget(rep=rep, month=month, amount=Decimal(amount), set_by=manager, updated_at=self.ctx.now)
                )
        SalesTarget.objects.bulk_create(targets)
        return len(targets)
