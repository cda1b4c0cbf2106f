"""End-to-end tests against the real servers operators run: nginx and Prometheus."""
