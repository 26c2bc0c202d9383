"""360-page panels of analytics (task D)."""


def register_panels() -> None:
    """Register the analytics panels of the customer 360 page."""
