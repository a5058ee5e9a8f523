"""Webhooks: signed events to a dealership's own systems, delivered from an outbox.

`events.emit(db, ...)` writes one delivery per subscribed endpoint in the caller's transaction;
`sender.WebhookSender` (the supervised `webhook-sender` task) delivers them. See docs/webhooks.md.
"""
