"""The payment service's rules, pure Python: orders, refunds, fees, reconciliation."""
