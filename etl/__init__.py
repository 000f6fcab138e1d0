"""cdr1c library: adapters to Asterisk, 1C and the ledger, and pure transforms between them."""

__version__ = "0.1.0"
