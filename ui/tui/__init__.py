"""The associate's terminal UI (Textual). Only ``ui`` may import textual."""
