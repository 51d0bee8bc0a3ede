"""Batch runs: what travels through durable history, and the work one batch activity does."""
