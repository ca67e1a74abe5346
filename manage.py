#!/usr/bin/env python
"""Django's command-line utility for administrative tasks. DJANGO_SETTINGS_MODULE must be set (`make run`
sets the demo's, pytest the tests'): the demo's defaults are never taken by accident."""

import sys


def main() -> None:
    from backoffice.settings.checks import settings_module_require

    settings_module_require()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
