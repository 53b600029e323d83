"""Custom actions of Kundendienst-Bot, one module per feature (rasa-sdk auto-discovers them)."""
