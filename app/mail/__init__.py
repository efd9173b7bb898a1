"""The outbox: mails written by business transactions, delivered after commit by the scheduler."""
