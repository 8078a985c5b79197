"""The wake-up prompt: when to wake the sleeper, what to tell them, and through which channels."""
