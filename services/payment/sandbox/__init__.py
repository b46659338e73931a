"""A local stand-in for WeChat Pay, Alipay and UnionPay speaking their real protocols (TEST keys only).

Run it as its own process: `python -m services.payment.sandbox --port 18080`. See
docs/payment-providers.md for the endpoints, the settings it writes and the control API.
"""
