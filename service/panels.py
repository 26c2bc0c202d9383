"""Service panels of the customer 360 page (registered from `ServiceConfig.ready`)."""


def register_panels() -> None:
    """Register the tickets and survey-responses panels."""
