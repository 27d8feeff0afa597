"""The tags around a model's thinking in Dify's text: how stream.py sends it and messages.py reads it back."""

THINK_START = "<think>"
THINK_END = "</think>"
