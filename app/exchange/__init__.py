"""The yearly exchange half-day (demi-journée d'échanges, « Rencontres »)."""
