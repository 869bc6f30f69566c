"""Messages the service sends to customers by itself: ticket status changes, on the channel each
ticket came from, in the customer's language."""
