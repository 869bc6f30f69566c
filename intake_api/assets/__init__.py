"""The asset registry: the installed units, their product, customer, contacts and site."""
