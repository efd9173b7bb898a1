"""Sites, rooms, topics, trainers, workshops, and the public catalogue."""
