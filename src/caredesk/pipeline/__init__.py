"""caredesk.pipeline"""
