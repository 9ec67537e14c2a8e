"""caredesk.connectors"""
