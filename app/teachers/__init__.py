"""A teacher's own pages, opened from the link in their mails (see `views`)."""
