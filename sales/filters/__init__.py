"""Sales filters, one module per area (leads, opportunities, orders, pool, reports)."""
