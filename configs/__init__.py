"""Bundled YAML configs (installed as ``slamseg.configs`` so that installed copies find them)."""
