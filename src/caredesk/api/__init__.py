"""caredesk.api"""
