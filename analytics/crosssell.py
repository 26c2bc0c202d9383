"""Cross-sell suggestions on the 360 page (task E)."""


def register_panel() -> None:
    """Register the "Suggested next products" panel."""
