"""polyout: an asyncio SDK and campaign runner for PolyAI's outbound calling APIs."""
