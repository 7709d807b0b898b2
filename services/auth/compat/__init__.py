"""The login routes of the compat surfaces: they issue native tokens in each seed's shape."""
