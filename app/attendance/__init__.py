"""What happens on the day and after: the trainer's space, attendance sheets, check-in,
certificates and the questionnaire."""
