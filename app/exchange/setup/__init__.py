"""Coordinators set up each school year's half-day: its date, hours, rooms and their equipment,
the proposals deadline, the seats and the videoconference link; then they close or reopen the
call. Every rule of these settings lives here, every change is in the audit log, written in the
same transaction.

Blocking problems (a date outside the school year, an end before the start, two auditoriums…)
raise SetupRefused and write nothing; warnings (a date that is not a Wednesday, in the holidays
or beyond the holiday data, a room taken by a workshop) come back to be confirmed, as the
workshops' checks do (`catalog.checks`).

The modules: `settings` (what the coordinator typed, the refusal, the half-day's lock),
`checks` (the problems and warnings of a change), `timing` (durations, hours and the deadline),
`rooms` (the rooms chosen, the seats, the workshops in the way), `history` (how a change reads
in the audit log), `save` (creating and editing), `call` (closing and reopening the call) and
`overview` (what the back office's pages show).
"""
