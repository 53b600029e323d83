"""Input and output channels (storefront widget, WhatsApp)."""
