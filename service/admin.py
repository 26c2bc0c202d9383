from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import (
    SlaPolicy,
    SurveyInvitation,
    SurveyResponse,
    SurveyRule,
    Ticket,
    TicketAssignmentRule,
    TicketCategory,
    TicketEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the application (survey invitations and answers): visible, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SubcategoryInline(admin.TabularInline):
    model = TicketCategory
    fk_name = "parent"
    extra = 1
    fields = ["name", "position", "active"]


@admin.register(TicketCategory)
class TicketCategoryAdmin(admin.ModelAdmin):
    list_display = ["__str__", "position", "active"]
    list_editable = ["position", "active"]
    list_filter = ["active", ("parent", admin.EmptyFieldListFilter)]
    list_select_related = ["parent"]
    search_fields = ["name", "parent__name"]
    inlines = [SubcategoryInline]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "priority",
        "tier",
        "first_response_minutes",
        "resolution_minutes",
        "business_hours_only",
        "active",
    ]
    list_filter = ["priority", "tier", "business_hours_only", "active"]
    fieldsets = [
        (None, {"fields": ["name", "priority", "tier", "active"]}),
        (_("Targets"), {"fields": ["first_response_minutes", "resolution_minutes"]}),
        (
            _("Business hours"),
            {
                "fields": ["business_hours_only", "day_starts", "day_ends", "working_days"],
                "description": _("Working days are ISO weekday numbers, Monday = 1: “1,2,3,4,5” for Monday to Friday."),
            },
        ),
    ]


@admin.register(TicketAssignmentRule)
class TicketAssignmentRuleAdmin(admin.ModelAdmin):
    list_display = ["team", "mode", "ticket_types", "active"]
    list_filter = ["mode", "active"]
    list_select_related = ["team"]


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "actor", "from_value", "to_value", "body", "emailed_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["number", "subject", "customer", "type", "priority", "status", "assignee", "resolution_due"]
    list_filter = ["status", "type", "priority", "channel", "escalation_level", "is_repeat"]
    list_select_related = ["customer", "assignee"]
    search_fields = ["number", "subject", "customer__name"]
    raw_id_fields = ["customer", "contact", "order", "product", "assignee"]
    readonly_fields = ["number", "created_at", "updated_at", "created_by", "version", "escalation_level"]
    date_hierarchy = "created_at"
    inlines = [TicketEventInline]


@admin.register(SurveyRule)
class SurveyRuleAdmin(admin.ModelAdmin):
    """The one survey rule (pk=1): no adding a second one, no deleting it."""

    list_display = ["__str__", "active", "delay_hours", "ticket_types", "after_delivery", "min_days_between"]

    def has_add_permission(self, request):
        return not SurveyRule.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # Straight to the one row, created with its defaults on first visit.
        rule = SurveyRule.objects.get_or_create(pk=1)[0]
        return redirect(reverse("admin:service_surveyrule_change", args=[rule.pk]))


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(ReadOnlyAdmin):
    list_display = ["customer", "email", "ticket", "order", "created_at", "sent_at", "reminded_at", "responded_at"]
    list_select_related = ["customer", "ticket", "order"]
    list_filter = ["sent_at", "responded_at"]
    search_fields = ["customer__name", "email"]
    exclude = ["token"]


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = ["customer", "overall_satisfaction", "likelihood_to_recommend", "ticket", "order", "answered_at"]
    list_select_related = ["customer", "ticket", "order"]
    search_fields = ["customer__name", "comment"]
    date_hierarchy = "answered_at"
