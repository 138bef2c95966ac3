"""The Youth Union volunteer console (``/console``): accounts, the handoff queue, conversations taken
over from the bot, and the desk helper for people helped in person."""
