"""caredesk.storage"""
