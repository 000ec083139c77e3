"""The seven gates, one module each, and the cascade that runs them cheapest first."""
