"""Configuration: models, loading and the template. Imports nothing else of ours."""

from config.errors import ConfigError, StoreAgentError
from config.loader import load_settings, resolve_config_path
from config.settings import Settings

__all__ = ["ConfigError", "Settings", "StoreAgentError", "load_settings", "resolve_config_path"]
