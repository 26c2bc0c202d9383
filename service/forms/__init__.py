"""Service-app forms, one module per area."""
