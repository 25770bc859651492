"""Rules of the domain shared by services: the clock, the working-day calendar, the agency directory, how a place
in a plan's document is cited."""
