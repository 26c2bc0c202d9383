"""Service-app services, one module per area (tickets, sla, surveys, reports)."""
