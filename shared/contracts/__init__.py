"""What services must agree on: events, commands, the ladder schema, the broker topology."""
