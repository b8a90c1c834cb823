"""The sales cloud's tables."""
