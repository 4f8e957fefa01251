"""Small complete programs behind ``chainrule demo NAME``."""
