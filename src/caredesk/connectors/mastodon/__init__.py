"""caredesk.connectors.mastodon"""
