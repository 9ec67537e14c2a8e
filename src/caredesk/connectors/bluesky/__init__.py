"""caredesk.connectors.bluesky: Bluesky (AT Protocol) mentions, replies, quotes and direct messages."""
