"""caredesk.domain"""
