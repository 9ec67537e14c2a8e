"""caredesk.cli"""
