"""The agenda of the exchange half-day, from the database to published versions, by concern:

- `solver_input` hands the half-day and its accepted contributions to the solver
  (`app.exchange.solver`, pure), with `presenters`: the same person on two proposals is one;
- `build` writes what the solver returns as the draft: the slots without a version, each
  left-out contribution with the solver's reason in French (`app.exchange.solver_text`). The
  scheduler's sweep `build_due_agendas` does the same once the proposals deadline has passed;
- `edits`: coordinators adjust the draft by hand (`move_slot`, `place_contribution`,
  `remove_from_draft`). Every change goes through `clashes.clashes`, the one checker of the
  solver's hard constraints, and `draft.draft_problems` runs it over the whole draft (`draft`)
  before a publication;
- `publishing` copies the draft into a new version, then `mails` tells each presenter whose
  slot appeared, moved or vanished since the previous version (`changes`) — and nobody else;
- `overview`: what the coordinators' page shows.

Each write is one transaction that first locks the half-day row (`refusals.lock`: `begin_write`,
then `FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` locks the database): two builds, a
build and a publication, or two schedulers never interleave, and a refused change
(`PlanningRefused`) writes nothing.
"""
