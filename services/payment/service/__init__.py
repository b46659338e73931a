"""Use cases of the payment service; `app.PaymentApp` assembles them."""
