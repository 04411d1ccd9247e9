"""The customer website: pages that call the domains' queries and render Jinja2 templates."""
