"""caredesk.workers"""
