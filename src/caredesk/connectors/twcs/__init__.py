"""caredesk.connectors.twcs"""
