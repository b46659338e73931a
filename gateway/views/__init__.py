"""Blueprints of the gateway."""
