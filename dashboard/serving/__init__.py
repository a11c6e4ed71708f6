"""How the app meets HTTP: request bodies bounded per route, and the server's own settings."""
