"""Webhook routers, one module per concern, each with its own gidgethub Router."""
