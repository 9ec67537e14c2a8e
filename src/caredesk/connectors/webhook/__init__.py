"""caredesk.connectors.webhook"""
