"""The company's conveyors: viewflow flows built from the engine's nodes.

This package is the company's own code: which role performs which node, what each
handoff must say, and the gateways. The engine finds it through ``SALESFLOW_FLOWS``.
"""
