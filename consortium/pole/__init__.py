"""pole."""
