"""The website assistant's understanding (SPEC §7 "Chat"): what a visitor's message asks and tells (intents and
slots), parsed by code with no model, and the FAQ answered from the station's own rules."""
