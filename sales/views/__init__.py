"""Views of the sales app, one module per area; each module lists its own URL patterns."""
