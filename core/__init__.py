"""The floor every other package stands on: settings, errors, logs, the database base and column
types, the message contract, and the channel and event-bus interfaces. It imports nothing of
ours."""
