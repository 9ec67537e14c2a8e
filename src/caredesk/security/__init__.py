"""caredesk.security"""
