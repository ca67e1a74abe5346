"""Models arrive with their issue; the app exists now so roles and URLs have a home."""
