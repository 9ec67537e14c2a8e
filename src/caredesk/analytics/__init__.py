"""caredesk.analytics"""
