"""Textual widgets, one panel per file. They render engine state; they compute nothing."""
