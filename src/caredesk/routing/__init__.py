"""caredesk.routing"""
