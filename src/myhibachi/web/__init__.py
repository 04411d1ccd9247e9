"""Server-rendered pages: the customer site (site/) and, later, the admin panel, with their static assets."""
