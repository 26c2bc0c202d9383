"""Views of the service app, one module per area; each module lists its own URL patterns."""
