"""CloudWatch Logs subscription forwarder: tracebacks out, signed POSTs to the bot."""
