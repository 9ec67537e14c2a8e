"""caredesk.actions"""
