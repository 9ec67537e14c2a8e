"""caredesk.connectors.facebook: a Facebook Page (feed comments and Messenger) over the Graph API."""
