"""Hostile inputs: each test here tries to break one safety claim of docs/security.md."""
