"""Email: an outbox written in the caller's transaction, a supervised sender, SMTP and Mailgun."""
