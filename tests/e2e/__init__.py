"""End-to-end tests: the plugin runs as a subprocess, driven over the daemon's stdio protocol."""
