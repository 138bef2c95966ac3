"""Channels that put the assistant in front of citizens: chat API, web widget, Zalo OA."""
