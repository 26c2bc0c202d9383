from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from . import crosssell, demo, home, home_cards, panels

        demo.register_demo()
        panels.register_panels()
        crosssell.register_panel()
        home.register()
        home_cards.register()
