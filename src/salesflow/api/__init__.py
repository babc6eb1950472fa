"""The REST API: leads in (idempotent), tasks along the conveyor, the client base.

Thin views over the engine's services and selectors: every state change goes through the
same service as the web pages, so the API can neither bypass a rule nor skip the audit
trail. Refusals (``SalesflowError``) become HTTP statuses in one place (``errors``).
"""
