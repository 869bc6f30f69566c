"""Phone calls: a call's transcript understood as one request by the bot (through the messages
desk, store first) and made final: an answered conversation or a ticket."""
