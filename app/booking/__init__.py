"""Registrations to workshops: the workshop page and its form, building a registration, its
mails and calendar invitation, reminders, coordinators' moves, changes of a workshop, retention.
The seat rules themselves (count, waiting list, promotion) are `app.seats`'."""
