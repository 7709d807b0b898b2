"""Helpers of the compat surfaces that both halves of a surface use: the auth service and the API.

A surface is named by its product (nevisa, primitives, translate, lecture, converter); what its
login routes and its job routes must agree on lives here, so neither service imports the other.
"""
