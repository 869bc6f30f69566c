"""The service side of the channels: the ports they use (a customer's tickets, the stored
conversation, live ticket changes) implemented over the service's tables, and the start-up that
hands them, with the messages desk and the outbound registry, to every channel."""
