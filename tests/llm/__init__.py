"""Unit tests of the LLM model type (models/llm)."""
