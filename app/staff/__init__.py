"""Staff accounts (coordinators and trainers), login and roles."""
