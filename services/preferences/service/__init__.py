"""Use cases of the preferences service: plan and batches (`plan`), the eligibility projection
(`eligibility`), filling and reading preferences (`filling`)."""
