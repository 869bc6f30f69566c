"""The dialogue manager: conversation state in the database, policy, slot filling, replies."""
