"""Adapters of the auth service: tables, captcha images, SMS providers."""
