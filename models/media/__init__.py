"""Files in prompts (images, audio): which URLs may be fetched, how, and how much per request."""
