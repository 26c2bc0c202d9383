"""Service demo data for `seed_demo`: the category tree, SLA policies, a service team with its assignment
rule, tickets for about half the customers (a timeline for each) and survey answers for closed ones.

`register_demo()` adds the step to `customers.demo_steps` (call it from `ServiceConfig.ready`). Deterministic
for the step's generator; written in bulk (COPY on PostgreSQL), ids and ticket numbers reserved up front,
so 100,000 customers cost a handful of queries per 5,000 tickets.
"""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.bulk import TableWriter, reserve_ids
from customers.demo_steps import DemoContext, DemoStep, register
from customers.models import Customer, Team
from sales.importing import reserve_numbers
from sales.models import Product

from .models import (
    DIMENSIONS,
    Priority,
    SlaPolicy,
    SurveyInvitation,
    SurveyResponse,
    SurveyRule,
    Ticket,
    TicketAssignmentRule,
    TicketCategory,
    TicketEvent,
)

CHUNK = 5000
HISTORY_DAYS = 540
TICKET_PREFIX = "T"
SERVICE_TEAM = "客户服务 / Customer Service"
REPEAT_WINDOW = datetime.timedelta(days=90)

# Category tree: top level → leaves (Chinese / English, as the rest of the demo data).
CATEGORY_TREE = (
    (
        "产品质量 Product quality",
        ("到货破损 Damaged on arrival", "功能故障 Does not work", "与描述不符 Not as described"),
    ),
    ("物流配送 Delivery", ("配送延迟 Late delivery", "错发漏发 Wrong or missing items")),
    ("服务态度 Staff attitude", ("响应慢 Slow to respond", "态度不佳 Impolite")),
    ("账单结算 Billing", ("重复扣款 Charged twice", "发票问题 Invoice problem")),
    ("使用咨询 How to use", ("安装调试 Installation", "操作指导 Operating questions")),
)
COMPLAINT_TOPS = ("产品质量 Product quality", "物流配送 Delivery", "服务态度 Staff attitude", "账单结算 Billing")

# (priority, first response minutes, resolution minutes) for everyone; VIPs get about half.
SLA_TARGETS = (
    (Priority.URGENT, 30, 8 * 60),
    (Priority.HIGH, 2 * 60, 24 * 60),
    (Priority.NORMAL, 8 * 60, 72 * 60),
    (Priority.LOW, 24 * 60, 7 * 24 * 60),
)

TYPES = (("complaint", 30), ("inquiry", 25), ("repair", 20), ("request", 15), ("suggestion", 10))
CHANNELS = (("phone", 40), ("email", 20), ("web", 20), ("message", 15), ("visit", 5))
PRIORITIES = (("low", 20), ("normal", 50), ("high", 22), ("urgent", 8))
SUBJECTS = {
    "complaint": ("收到的货物外包装破损", "Order arrived late again", "客服电话一直打不通", "Invoice amount is wrong",
                  "产品使用一周就坏了", "Delivered the wrong model"),
    "inquiry": ("请问如何开具增值税发票", "Do you ship to Hong Kong?", "产品保修期多久", "How do I reset the device?"),
    "repair": ("设备无法开机，需要上门维修", "Screen flickers after update", "配件损坏申请更换"),
    "request": ("申请修改收货地址", "Please send the user manual", "需要提供产品检测报告"),
    "suggestion": ("建议增加夜间客服", "Offer a mobile app for orders", "包装可以更环保一些"),
}  # fmt: skip
ROOT_CAUSES = ("包装不牢 Weak packaging", "快递野蛮装卸 Courier handling", "出厂质检漏检 Missed QC check",
               "系统开票错误 Billing system error", "人手不足 Understaffed shift", "说明书不清楚 Unclear manual",
               "仓库拣货错误 Picking error")  # fmt: skip
RECOVERY = ("apology", "refund", "replacement", "repair", "compensation", "discount", "explanation")
ATTITUDES = (("satisfied", 55), ("accepted", 30), ("dissatisfied", 15))
REPLIES = ("您好，我们已收到您的反馈，正在核实处理。", "Thank you for letting us know; we are looking into it now.")
NOTES = ("已联系仓库核实。", "Asked the courier for the delivery photo.", "等待客户回传照片。")
SURVEY_COMMENTS = ("处理很及时，谢谢！", "Friendly staff, but it took too long.", "希望下次不要再出现同样的问题。",
                   "Great service.", "", "", "")  # fmt: skip
SURVEY_TYPES = ("complaint", "repair", "request")
INVITED_SHARE = 0.6
ANSWERED_SHARE = 0.45


class Weighted:
    def __init__(self, pairs):
        self.items = [item for item, _weight in pairs]
        self.weights = [weight for _item, weight in pairs]

    def pick(self, rng):
        return rng.choices(self.items, self.weights)[0]


def register_demo() -> None:
    """Add the service step to seed_demo (after sales, so products exist)."""
    register(DemoStep(key="service", run=run_demo, order=40))


def run_demo(ctx: DemoContext) -> dict:
    """Service configuration (first run), then tickets for about half of this run's customers."""
    counts = {}
    setup = ensure_setup(ctx, counts)
    counts |= ServiceDemo(ctx, setup).run(len(ctx.customer_ids) // 2)
    return counts


@dataclass
class Setup:
    leaves: dict[str, list[int]]  # top-level category name → leaf ids
    policies: dict[tuple[str, str], tuple[int, int, int]]  # (priority, tier) → (id, first response, resolution)
    team_id: int | None
    agent_ids: list[int]


def ensure_setup(ctx: DemoContext, counts: dict) -> Setup:
    """Categories, SLA policies, the service team and its rule, the survey rule (created when missing)."""
    created = 0
    for position, (top, leaves) in enumerate(CATEGORY_TREE):
        parent, new = TicketCategory.objects.get_or_create(parent=None, name=top, defaults={"position": position})
        created += new
        for leaf_position, leaf in enumerate(leaves):
            created += TicketCategory.objects.get_or_create(
                parent=parent, name=leaf, defaults={"position": leaf_position}
            )[1]
    counts["ticket categories"] = created
    policies = 0
    for priority, first_response, resolution in SLA_TARGETS:
        for tier, factor in (("", 1), (Customer.Tier.VIP, 0.5)):
            policies += SlaPolicy.objects.get_or_create(
                priority=priority,
                tier=tier,
                active=True,
                defaults={
                    "name": f"{priority.label}{' VIP' if tier else ''}",
                    "first_response_minutes": int(first_response * factor),
                    "resolution_minutes": int(resolution * factor),
                },
            )[1]
    counts["SLA policies"] = policies
    SurveyRule.objects.get_or_create(pk=1)
    agents = [user for name, user in sorted(ctx.users.items()) if name.startswith("service")]
    team_id = None
    if agents:
        team, _new = Team.objects.get_or_create(name=SERVICE_TEAM, defaults={"manager": ctx.users.get("manager")})
        team.members.add(*agents)
        TicketAssignmentRule.objects.get_or_create(team=team, defaults={"mode": TicketAssignmentRule.Mode.LEAST_OPEN})
        team_id = team.pk
    tops = {c.pk: c.name for c in TicketCategory.objects.filter(parent=None)}
    leaves: dict[str, list[int]] = {}
    for pk, parent_id in TicketCategory.objects.filter(parent__isnull=False, active=True).values_list("pk", "parent"):
        leaves.setdefault(tops.get(parent_id, ""), []).append(pk)
    active = SlaPolicy.objects.filter(active=True).values_list(
        "priority", "tier", "pk", "first_response_minutes", "resolution_minutes"
    )
    return Setup(
        leaves={name: sorted(ids) for name, ids in leaves.items()},
        policies={(p, t): (pk, fr, res) for p, t, pk, fr, res in active},
        team_id=team_id,
        agent_ids=[user.pk for user in agents],
    )


class ServiceDemo:
    def __init__(self, ctx: DemoContext, setup: Setup):
        self.ctx = ctx
        self.rng = ctx.rng
        self.setup = setup
        self.now = ctx.now
        self.types = Weighted(TYPES)
        self.channels = Weighted(CHANNELS)
        self.priorities = Weighted(PRIORITIES)
        self.attitudes = Weighted(ATTITUDES)
        self.product_ids = sorted(Product.objects.values_list("pk", flat=True))
        self.users = {user.pk: user for user in ctx.users.values()}
        self.writers = {
            "tickets": TableWriter(Ticket, with_ids=True),
            "ticket events": TableWriter(TicketEvent, with_ids=False),
            "survey invitations": TableWriter(SurveyInvitation, with_ids=True),
            "survey responses": TableWriter(SurveyResponse, with_ids=False),
        }
        # Last complaint per customer, for the repeat flag (tickets are drafted oldest first).
        self.last_complaint: dict[int, datetime.datetime] = {}

    def run(self, count: int) -> dict:
        ids = self.ctx.customer_ids
        if count <= 0 or not ids:
            return dict.fromkeys(self.writers, 0)
        # Each chunk of customers gets its share of tickets; the drafts of a chunk are written together.
        per_customer = count / len(ids)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            self.write_chunk(chunk, round(per_customer * (start + len(chunk))) - round(per_customer * start))
        return {name: writer.written for name, writer in self.writers.items()}

    def write_chunk(self, ids: list[int], count: int) -> None:
        rng = self.rng
        customers = sorted(
            Customer.objects.filter(pk__in=ids).values_list(
                "pk", "owner_id", "tier", "email", "marketing_consent", "created_at"
            )
        )
        if not customers or count <= 0:
            return
        drafts = []
        for _n in range(count):
            customer = rng.choice(customers)
            earliest = max(customer[5], self.now - datetime.timedelta(days=HISTORY_DAYS))
            span = max((self.now - earliest).total_seconds(), 3600)
            # More tickets lately: the square root skews the draw toward the recent end.
            created = self.now - datetime.timedelta(seconds=span * (1 - rng.random() ** 0.5))
            drafts.append((created, customer))
        drafts.sort(key=lambda d: (d[0], d[1][0]))
        ticket_ids = reserve_ids(Ticket, len(drafts))
        numbers = reserve_numbers(TICKET_PREFIX, [timezone.localtime(d[0]).year for d in drafts])
        tickets, events, surveys = [], [], []
        for pk, number, (created, customer) in zip(ticket_ids, numbers, drafts, strict=True):
            ticket, ticket_events = self.draft_ticket(pk, number, created, customer)
            tickets.append(ticket)
            events.extend(ticket_events)
            surveyable = ticket["status"] == "closed" and ticket["type"] in SURVEY_TYPES and customer[4] and customer[3]
            if surveyable and rng.random() < INVITED_SHARE:
                surveys.append((ticket, customer))
        self.writers["tickets"].write(tickets)
        invitations, responses = self.draft_surveys(surveys, events)
        self.writers["ticket events"].write(events)
        self.writers["survey invitations"].write(invitations)
        self.writers["survey responses"].write(responses)

    def draft_ticket(self, pk: int, number: str, created: datetime.datetime, customer: tuple):
        rng = self.rng
        customer_id, owner_id, tier, _email, _consent, _created = customer
        kind = self.types.pick(rng)
        priority = self.priorities.pick(rng)
        policy = self.setup.policies.get((priority, tier)) or self.setup.policies.get((priority, ""))
        policy_id, first_minutes, resolution_minutes = policy or (None, 8 * 60, 72 * 60)
        first_due = created + datetime.timedelta(minutes=first_minutes)
        resolution_due = created + datetime.timedelta(minutes=resolution_minutes)
        age = self.now - created
        # Most answers come well inside the target; about one in eight is late.
        first_responded = created + datetime.timedelta(minutes=first_minutes * rng.uniform(0.05, 1.15))
        resolved = created + datetime.timedelta(minutes=resolution_minutes * rng.uniform(0.1, 1.15))
        if age > datetime.timedelta(days=14):
            status = Weighted((("closed", 92), ("resolved", 5), ("waiting", 2), ("in_progress", 1))).pick(rng)
        else:
            status = Weighted(
                (("new", 8), ("assigned", 12), ("in_progress", 20), ("waiting", 10), ("resolved", 20), ("closed", 30))
            ).pick(rng)
        if status in ("resolved", "closed") and resolved > self.now:
            resolved = self.now - datetime.timedelta(minutes=rng.randrange(5, 120))
            resolved = max(resolved, created + datetime.timedelta(minutes=5))
        if first_responded > self.now or status == "new":
            first_responded = None
        elif status in ("resolved", "closed"):
            first_responded = min(first_responded, resolved)
        closed = resolved + datetime.timedelta(hours=rng.uniform(1, 72)) if status == "closed" else None
        if closed and closed > self.now:
            closed = self.now
        agents = self.setup.agent_ids
        assignee_id = rng.choice(agents) if agents and status != "new" else None
        top = rng.choice(COMPLAINT_TOPS) if kind == "complaint" else rng.choice([t for t, _l in CATEGORY_TREE])
        leaves = self.setup.leaves.get(top) or []
        ticket = {
            "id": pk,
            "number": number,
            "type": kind,
            "channel": self.channels.pick(rng),
            "priority": priority,
            "status": status,
            "category_id": rng.choice(leaves) if leaves else None,
            "subject": rng.choice(SUBJECTS[kind]),
            "description": "",
            "customer_id": customer_id,
            "contact_id": None,
            "order_id": None,
            "product_id": rng.choice(self.product_ids)
            if self.product_ids and kind in ("complaint", "repair") and rng.random() < 0.6
            else None,
            "assignee_id": assignee_id,
            "team_id": self.setup.team_id if assignee_id else None,
            "sla_policy_id": policy_id,
            "first_response_due": first_due,
            "resolution_due": resolution_due,
            "first_responded_at": first_responded,
            "resolved_at": resolved if status in ("resolved", "closed") else None,
            "closed_at": closed,
            "escalation_level": 0,
            "resolution": "",
            "root_cause": "",
            "recovery_action": "",
            "feedback_to_customer": "",
            "customer_attitude": "",
            "is_repeat": False,
            "version": 1,
            "created_at": created,
            "updated_at": closed or resolved if status in ("resolved", "closed") else (first_responded or created),
            "created_by_id": assignee_id,
        }
        open_late = status not in ("resolved", "closed") and resolution_due < self.now
        if open_late or (ticket["resolved_at"] and ticket["resolved_at"] > resolution_due and rng.random() < 0.5):
            ticket["escalation_level"] = 1 if rng.random() < 0.7 else 2
        if kind == "complaint":
            previous = self.last_complaint.get(customer_id)
            ticket["is_repeat"] = previous is not None and created - previous <= REPEAT_WINDOW
            self.last_complaint[customer_id] = created
            if ticket["resolved_at"]:
                ticket["root_cause"] = rng.choice(ROOT_CAUSES)
                ticket["recovery_action"] = rng.choice(RECOVERY)
                ticket["feedback_to_customer"] = "已向客户说明原因并致歉。 Explained the cause and apologised."
                ticket["customer_attitude"] = self.attitudes.pick(rng)
        if ticket["resolved_at"]:
            ticket["resolution"] = "问题已解决。 Resolved with the customer."
        return ticket, self.draft_events(ticket)

    def draft_events(self, ticket: dict) -> list[dict]:
        rng = self.rng
        actor = ticket["assignee_id"]
        person = self.person(actor)
        events = [self.event(ticket, "created", ticket["created_at"], actor=None, to_value=ticket["number"])]
        if actor:
            at = ticket["created_at"] + datetime.timedelta(minutes=rng.randrange(1, 20))
            events.append(self.event(ticket, "assigned", at, to_value=person))
            events.append(self.event(ticket, "status", at, from_value="new", to_value="assigned"))
        if ticket["first_responded_at"]:
            at = ticket["first_responded_at"]
            events.append(self.event(ticket, "reply", at, actor=actor, body=rng.choice(REPLIES), emailed_at=at))
            events.append(self.event(ticket, "status", at, actor=actor, from_value="assigned", to_value="in_progress"))
            if rng.random() < 0.3:
                events.append(self.event(ticket, "note", at + datetime.timedelta(minutes=30), actor=actor,
                                         body=rng.choice(NOTES)))  # fmt: skip
        for level in range(1, ticket["escalation_level"] + 1):
            at = max(ticket["resolution_due"], ticket["created_at"]) + datetime.timedelta(minutes=5 * level)
            if at <= self.now:
                events.append(self.event(ticket, "escalated", at, from_value=str(level - 1), to_value=str(level)))
        if ticket["resolved_at"]:
            events.append(self.event(ticket, "status", ticket["resolved_at"], actor=actor, from_value="in_progress",
                                     to_value="resolved", body=ticket["resolution"]))  # fmt: skip
        if ticket["closed_at"]:
            events.append(self.event(ticket, "status", ticket["closed_at"], actor=actor, from_value="resolved",
                                     to_value="closed"))  # fmt: skip
        elif ticket["status"] in ("waiting",):
            events.append(self.event(ticket, "status", ticket["updated_at"], actor=actor, from_value="in_progress",
                                     to_value="waiting"))  # fmt: skip
        return events

    def person(self, user_id) -> str:
        user = self.users.get(user_id)
        return ((user.get_full_name() or user.username) if user else "")[:64]

    @staticmethod
    def event(ticket, kind, at, *, actor=None, from_value="", to_value="", body="", emailed_at=None) -> dict:
        return {
            "ticket_id": ticket["id"],
            "kind": kind,
            "actor_id": actor,
            "from_value": from_value,
            "to_value": to_value,
            "body": body,
            "emailed_at": emailed_at,
            "created_at": at,
        }

    def draft_surveys(self, surveys: list[tuple], events: list[dict]) -> tuple[list[dict], list[dict]]:
        rng = self.rng
        if not surveys:
            return [], []
        invitation_ids = reserve_ids(SurveyInvitation, len(surveys))
        invitations, responses = [], []
        for pk, (ticket, customer) in zip(invitation_ids, surveys, strict=True):
            sent = ticket["closed_at"] + datetime.timedelta(hours=rng.uniform(24, 25))
            if sent > self.now:
                continue
            expires = sent + datetime.timedelta(days=14)
            answered = None
            if rng.random() < ANSWERED_SHARE:
                answered = sent + datetime.timedelta(hours=rng.uniform(0.5, 96))
                if answered > min(self.now, expires):
                    answered = None
            reminded = sent + datetime.timedelta(days=3)
            if (answered and answered < reminded) or reminded > self.now:
                reminded = None
            invitations.append(
                {
                    "id": pk,
                    # Demo tokens come from the step's generator (deterministic); real ones from `secrets`.
                    "token": f"demo-{rng.getrandbits(128):032x}",
                    "customer_id": ticket["customer_id"],
                    "ticket_id": ticket["id"],
                    "order_id": None,
                    "email": customer[3],
                    "created_at": sent,
                    "sent_at": sent,
                    "reminded_at": reminded,
                    "expires_at": expires,
                    "responded_at": answered,
                }
            )
            if answered:
                response = self.draft_response(ticket, pk, answered)
                responses.append(response)
                events.append(
                    self.event(
                        ticket,
                        "survey",
                        answered,
                        body=f"{response['overall_satisfaction']}/5, {response['likelihood_to_recommend']}/10",
                    )  # fmt: skip
                )
        return invitations, responses

    def draft_response(self, ticket: dict, invitation_id: int, answered: datetime.datetime) -> dict:
        rng = self.rng
        late = ticket["resolved_at"] and ticket["resolved_at"] > ticket["resolution_due"]
        unhappy = ticket["customer_attitude"] == "dissatisfied"
        # Expectations sit high; what customers perceive drops when the ticket was late or they were unhappy.
        mood = -2 if unhappy else (-1 if late else 0)
        row = {
            "invitation_id": invitation_id,
            "customer_id": ticket["customer_id"],
            "ticket_id": ticket["id"],
            "order_id": None,
            "comment": rng.choice(SURVEY_COMMENTS),
            "answered_at": answered,
        }
        for dim in DIMENSIONS:
            expected = rng.choice((5, 6, 6, 7, 7))
            row[f"{dim}_expected"] = expected
            row[f"{dim}_perceived"] = min(7, max(1, expected + mood + rng.choice((-2, -1, -1, 0, 0, 0, 1))))
        row["overall_satisfaction"] = min(5, max(1, 4 + mood + rng.choice((-1, 0, 0, 1))))
        row["likelihood_to_recommend"] = min(10, max(0, 8 + 2 * mood + rng.choice((-2, -1, 0, 1, 2))))
        return row


def bench_context(*, seed: str, now: datetime.datetime | None = None) -> DemoContext:
    """A demo context over the demo users, for topping up a database outside seed_demo (the bench)."""
    import random

    users = {user.username: user for user in get_user_model().objects.all()}
    return DemoContext(rng=random.Random(seed), users=users, customer_ids=[], now=now or timezone.now(),
                       first_run=False)  # fmt: skip
