"""The unified inbox (SPEC §7 "Inbox"): every channel's messages as one conversation per person per channel."""
