"""From an occurrence to a checked fix: map frames, read code, prompt, edit."""
