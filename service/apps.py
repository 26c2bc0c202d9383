from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service")

    def ready(self):
        from . import demo, home, panels, survey_panels

        panels.register_panels()
        survey_panels.register_survey_panels()
        demo.register_demo()
        home.register()
