"""iCalendar: building calendars from workshops and plain values, the public feeds and their views.

A bottom-layer package: it knows workshops (catalog) and plain attendee values, never
registrations; a teacher's personal feed (`booking.feeds`, served by `teachers`) hands its
workshops here.
"""
