"""Adapters of the payment service: tables (`tables`); the provider clients live in `services.payment.providers`."""
