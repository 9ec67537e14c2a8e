"""caredesk.web"""
