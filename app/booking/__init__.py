"""Registrations, the waiting list and management links: the seat rules live here only."""
