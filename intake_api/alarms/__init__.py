"""Machine alarms: intake (HTTP, MQTT), de-duplication, proactive tickets, fleet incidents."""
