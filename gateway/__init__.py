"""The API gateway: web UI, JSON API, captcha and sessions; no business rules."""
