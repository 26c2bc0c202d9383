"""Sales panels of the customer 360 page (registered from `SalesConfig.ready`)."""


def register_panels() -> None:
    """Register the opportunities, orders and purchase-history panels."""
