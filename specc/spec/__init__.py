"""The spec language: loading YAML with positions, the pydantic schema and validation."""
