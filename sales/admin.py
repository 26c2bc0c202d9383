from django.contrib import admin

from .models import (
    Lead,
    LeadRouting,
    Opportunity,
    OpportunityLine,
    Order,
    OrderLine,
    Pipeline,
    PoolMove,
    PoolRule,
    Product,
    SalesTarget,
    ScreeningCriterion,
    Stage,
    StageChange,
)


class SingletonAdmin(admin.ModelAdmin):
    """A settings row (pk=1): no adding a second one, no deleting the first."""

    def has_add_permission(self, request):
        return not self.model.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ScreeningCriterion)
class ScreeningCriterionAdmin(admin.ModelAdmin):
    list_display = ["name", "weight", "position", "active"]
    list_editable = ["weight", "position", "active"]


@admin.register(LeadRouting)
class LeadRoutingAdmin(SingletonAdmin):
    filter_horizontal = ["reps"]


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "status", "source", "owner", "score", "created_at"]
    list_filter = ["status", "source", "from_web_form"]
    search_fields = ["name", "company", "phone", "email"]
    raw_id_fields = ["owner", "referred_by", "customer", "contact", "opportunity"]
    list_select_related = ["owner"]


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ["name", "position", "probability", "is_won", "is_lost"]


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "is_default", "active"]
    inlines = [StageInline]


class OpportunityLineInline(admin.TabularInline):
    model = OpportunityLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ["name", "customer", "owner", "stage", "amount", "probability", "expected_close"]
    list_filter = ["pipeline", "stage"]
    search_fields = ["name", "customer__name"]
    raw_id_fields = ["customer", "contact", "owner"]
    list_select_related = ["customer", "owner", "stage"]
    inlines = [OpportunityLineInline]


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ["opportunity", "from_stage", "to_stage", "changed_by", "changed_at"]
    raw_id_fields = ["opportunity"]
    list_select_related = ["opportunity", "from_stage", "to_stage", "changed_by"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "unit_price", "unit_cost", "active"]
    list_filter = ["active", "category"]
    search_fields = ["sku", "name"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]
    readonly_fields = ["amount", "cost"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "order_ref", "customer", "owner", "status", "ordered_at", "amount", "cost"]
    list_filter = ["status"]
    search_fields = ["number", "order_ref", "customer__name"]
    raw_id_fields = ["customer", "owner", "opportunity"]
    readonly_fields = ["amount", "cost", "version"]
    list_select_related = ["customer", "owner"]
    date_hierarchy = "ordered_at"
    inlines = [OrderLineInline]


@admin.register(PoolRule)
class PoolRuleAdmin(SingletonAdmin):
    pass


@admin.register(PoolMove)
class PoolMoveAdmin(admin.ModelAdmin):
    list_display = ["customer", "action", "from_owner", "to_owner", "actor", "moved_at"]
    list_filter = ["action"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "from_owner", "to_owner", "actor"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SalesTarget)
class SalesTargetAdmin(admin.ModelAdmin):
    list_display = ["rep", "month", "amount", "set_by"]
    list_filter = ["month"]
    list_select_related = ["rep", "set_by"]
