#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    # manage.py is the developer's entry point: without a DEBUG setting it runs as development.
    # Production exports DEBUG=false (README); gunicorn and Celery never read this default.
    os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
