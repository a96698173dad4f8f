"""Running the system: the embedded Redis, the `ivr serve` supervisor and web server, health, metrics, backups."""
