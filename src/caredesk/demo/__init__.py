"""caredesk.demo"""
