"""caredesk.fakes"""
