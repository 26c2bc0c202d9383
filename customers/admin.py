from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Contact, Customer, CustomerMerge, ImportJob, Interaction, JobRun, Tag, Task, Team


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["name", "title", "phone", "email", "is_primary"]


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["name", "external_ref", "owner", "category", "tier", "state", "archived", "updated_at"]
    list_filter = ["archived", "category", "tier", "state", "kind", "industry"]
    search_fields = ["name", "external_ref", "phone", "email"]
    raw_id_fields = ["owner", "referred_by", "merged_into"]
    readonly_fields = ["version", "created_at", "updated_at", "graded_at"]
    filter_horizontal = ["tags"]
    inlines = [ContactInline]
    list_select_related = ["owner"]

    def has_delete_permission(self, request, obj=None):
        # Customers are archived, never deleted: orders, tickets and history point at them.
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager"]
    filter_horizontal = ["members"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["subject", "customer", "kind", "actor", "occurred_at"]
    list_filter = ["kind"]
    raw_id_fields = ["customer", "contact"]
    list_select_related = ["customer", "actor"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "customer", "due_date", "done", "source"]
    list_filter = ["done", "source"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "owner"]


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["job", "as_of", "status", "started_at", "finished_at", "counts"]
    list_filter = ["job", "status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["original_name", "kind", "status", "created_by", "created_at", "total_rows"]
    list_filter = ["status", "kind"]

    def has_add_permission(self, request):
        return False


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    list_display = ["kept", "merged", "actor", "merged_at"]
    raw_id_fields = ["kept", "merged"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
