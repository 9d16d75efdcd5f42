"""Independent oracles: the rules of DESIGN.md written again, from the text, to check the product.

The product's own rules live in SQL (dbt models); these restatements are used only by the tests
and by the simulator (to bill its carrier CDRs), never by the product.
"""
