"""End-to-end tests: real Asterisk 22, real SIP (SIPp), our server, Redis."""
