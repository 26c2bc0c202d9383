"""Sales forms, one module per area (leads, opportunities, orders, pool, reports)."""
