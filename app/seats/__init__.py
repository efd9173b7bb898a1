"""The only seat ledger, for every holder of seats (a workshop, the exchange half-day): the
seat row's columns and constraints (`models`) and the ledger that counts, places, withdraws,
promotes and shifts under the holder's lock (`ledger`)."""
