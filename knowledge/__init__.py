"""Troubleshooting articles: Markdown with front matter, versioned, linked to device
models, alert rule ids and fault codes, searched with ranking (see README.md)."""
