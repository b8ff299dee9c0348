"""`nudge bench`: Nudge measured side by side with raw Kafka consumers and a naive Faust agent."""
