"""caredesk.connectors.instagram: an Instagram professional account (comments and DMs) over the Graph API."""
