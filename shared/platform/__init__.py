"""Runtime plumbing every service uses: broker, consumer, outbox, unit of work, database, HTTP, logs, metrics,
settings."""
