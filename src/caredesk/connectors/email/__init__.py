"""Email (IMAP/SMTP) channels."""
