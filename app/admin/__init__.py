"""The coordinators' back office: catalogue, registrations, programme, outbox, figures, audit log."""
