"""caredesk.connectors.x: the X (Twitter) API v2 connector."""
