"""Infrastructure shared by every domain; holds no business rules and imports no domain."""
