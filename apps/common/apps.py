import logging

from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "apps.common"
    label = "common"
    verbose_name = "Shared plumbing"

    def ready(self):
        from apps.common.request_ids import install_log_record_factory

        install_log_record_factory()
        # Python warnings become log lines (logger `py.warnings`), in LOG_FORMAT like every other line.
        logging.captureWarnings(True)
