"""Profile data files (one TOML file per profile version); a package so that wheels ship them."""
