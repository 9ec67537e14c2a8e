"""caredesk.triage"""
