"""The call for contributions and its review: submitting, editing and withdrawing a proposal
(through the presenter's secret link), and the coordinators' decision.

Every change is one write transaction that first locks the half-day row (`FOR UPDATE` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite), then re-reads what it decides on: a double click, or a
presenter withdrawing while a coordinator decides, sees the other's result and not a stale row.
The mails each change implies are written to the outbox in the same transaction.

A presenter's edit after a review keeps the decision (an accepted proposal stays accepted) and
is written to the audit log (`contribution.presenter_edit`, fields before and after): the review
pages flag a proposal whose last such entry is later than its `reviewed_at`.

The modules: `data` (what a proposal holds, the limits, the refusals), `rules` (what its
content and its presenter's availability must meet, and when it may change), `access` (finding
a proposal by its link or id, and locking it), `mails`, `presenter` (submit, update, withdraw)
and `review` (the coordinators' list, history and decision).
"""
