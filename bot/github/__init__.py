"""GitHub: the app's credentials, a client per installation, and repository I/O."""
