"""A seedable behaviour simulator: personas, catalogue and reactions to pushes, published in accelerated event time."""
