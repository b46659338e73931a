"""WSGI entry point: `gunicorn gateway.wsgi:app`."""

from gateway.app import create_app
from zsb.common.logging import configure_logging
from zsb.common.settings import Settings

_settings = Settings(service_name="gateway")
configure_logging("gateway", _settings.log_level)
app = create_app(_settings)
