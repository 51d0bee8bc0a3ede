"""The domain and its adapters. Imports nothing from azure.functions."""
